"""Shagym configuration: one YAML file validated by pydantic models, one model per section.

Errors name the key path and the YAML line so a city's IT admin can fix a typo without reading code.
`fields` holds the building blocks, `sections` the models of the sections, `model` the whole `Config`
and its directory lookups, `loading` the reading of the file (env overrides, cross-checks, warnings).
"""

from __future__ import annotations

from bot.config.fields import (
    ENV_OVERRIDES,
    WEBHOOK_SECRET,
    ChatId,
    ConfigError,
    ConfigIssue,
    CronSchedule,
    Identifier,
    Language,
    LocalizedName,
    Section,
    UserId,
)
from bot.config.loading import config_warnings, default_config_path, load_config, parse_config
from bot.config.model import Config
from bot.config.sections import (
    CategoryConfig,
    ClassifierConfig,
    DeadlinesConfig,
    DeliveryConfig,
    DepartmentConfig,
    DigestConfig,
    DigestsConfig,
    DistrictConfig,
    DuplicatesConfig,
    LoggingConfig,
    ObservabilityConfig,
    OfficialConfig,
    RateLimitConfig,
    ResidentsConfig,
    RetentionConfig,
    StorageConfig,
    TelegramConfig,
    WatchConfig,
    WebhookConfig,
)

__all__ = [
    "ENV_OVERRIDES",
    "WEBHOOK_SECRET",
    "CategoryConfig",
    "ChatId",
    "ClassifierConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "CronSchedule",
    "DeadlinesConfig",
    "DeliveryConfig",
    "DepartmentConfig",
    "DigestConfig",
    "DigestsConfig",
    "DistrictConfig",
    "DuplicatesConfig",
    "Identifier",
    "Language",
    "LocalizedName",
    "LoggingConfig",
    "ObservabilityConfig",
    "OfficialConfig",
    "RateLimitConfig",
    "ResidentsConfig",
    "RetentionConfig",
    "Section",
    "StorageConfig",
    "TelegramConfig",
    "UserId",
    "WatchConfig",
    "WebhookConfig",
    "config_warnings",
    "default_config_path",
    "load_config",
    "parse_config",
]
