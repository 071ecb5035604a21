"""One pydantic model per section of the YAML file."""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from bot.config.fields import (
    WEBHOOK_SECRET,
    ChatId,
    CronSchedule,
    Identifier,
    Language,
    LocalizedName,
    Section,
    UserId,
)
from bot.config.text import describe, strip_invisible
from bot.core.domain import DEFAULT_LANGUAGE


class RateLimitConfig(Section):
    """Outbound limits that keep the bot inside Telegram's flood control."""

    per_chat_per_second: float = Field(default=1.0, gt=0)
    per_group_per_minute: int = Field(default=20, gt=0)
    global_per_second: float = Field(default=30.0, gt=0)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookConfig(Section):
    """Where Telegram posts updates in webhook mode."""

    url: str | None = None
    path: str = "/telegram/webhook"
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    # empty: the bot generates one at first start and keeps it in the database for every instance
    secret_token: SecretStr = SecretStr("")

    @field_validator("url")
    @classmethod
    def _public_url_is_https(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        parts = urlsplit(value)
        try:
            host = parts.hostname or ""
        except ValueError:
            host = ""
        if parts.scheme == "https" and host:
            return value
        # a telegram-bot-api server in --local mode on the same machine may post over plain http
        if parts.scheme == "http" and host and _is_loopback(host):
            return value
        raise ValueError(
            "must be an https:// URL (Telegram only posts updates over HTTPS), e.g. "
            "https://bot.example.kz/telegram/webhook; http:// is allowed only for a loopback host "
            "(127.0.0.1, localhost, ::1), i.e. a telegram-bot-api server on the same machine"
        )

    @field_validator("secret_token")
    @classmethod
    def _telegram_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not WEBHOOK_SECRET.fullmatch(secret):
            # the secret itself stays out of the message: errors end up in logs and CI output
            odd = next((c for c in secret if not re.fullmatch(r"[A-Za-z0-9_-]", c)), None)
            detail = f"it has {len(secret)} characters" if odd is None else f"it contains {describe(odd)}"
            raise ValueError(
                f"Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and - as a secret token; {detail}. "
                "Leave it empty to have one generated and stored in the database"
            )
        return value


class TelegramConfig(Section):
    """Bot credentials and how updates reach it."""

    token: SecretStr = SecretStr("")
    api_url: str = "https://api.telegram.org"
    framework: Literal["aiogram", "ptb"] = "aiogram"
    mode: Literal["polling", "webhook"] = "polling"
    polling_timeout: int = Field(default=30, ge=0, le=50)
    # how long one Bot API request may take before it counts as failed (then retried with backoff)
    request_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    admins: list[UserId] = Field(default_factory=list)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)

    @field_validator("api_url")
    @classmethod
    def _api_url_is_http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")


class StorageConfig(Section):
    """Database and optional Redis; without Redis the department queues live in the database."""

    database_url: str = "sqlite+aiosqlite:///var/shagym.db"
    redis_url: str | None = None
    queue_lease_seconds: float = Field(default=60.0, gt=0)
    # several instances: the polling and delivery leaders renew this lease; others take over once it ends
    leader_lease_seconds: float = Field(default=15.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class WatchConfig(Section):
    """Which chats are monitored for tagged officials."""

    chats: Literal["all"] | list[ChatId] = "all"
    acknowledge_chats: list[ChatId] = Field(default_factory=list)
    acknowledge_interval_seconds: float = Field(default=60.0, ge=0)

    def watches(self, chat_id: int) -> bool:
        """True when messages from `chat_id` are monitored."""
        return self.chats == "all" or chat_id in self.chats


class DigestConfig(Section):
    """Where and when an official gets a digest."""

    chat_id: ChatId
    schedule: CronSchedule = "0 9 * * *"
    language: Language = DEFAULT_LANGUAGE


class OfficialConfig(Section):
    """An official residents tag: the akim, deputies, district akims."""

    id: Identifier
    name: LocalizedName
    usernames: list[str] = Field(default_factory=list)
    user_ids: list[UserId] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    digest: DigestConfig | None = None

    @field_validator("usernames")
    @classmethod
    def _usernames(cls, value: list[str]) -> list[str]:
        cleaned = []
        for name in value:
            # an invisible character pasted along (a warning says so) would make the username never match
            bare = strip_invisible(name).removeprefix("@")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", bare):
                odd = next((c for c in bare if not re.fullmatch(r"[A-Za-z0-9_]", c)), None)
                detail = f": {describe(odd)} is not allowed" if odd is not None else ""
                raise ValueError(
                    f"{name!r} is not a Telegram username (5-32 Latin letters, digits, _){detail}"
                )
            cleaned.append(bare.lower())
        return cleaned


class DeliveryConfig(Section):
    """How cards reach department chats."""

    park_seconds: float = Field(default=300.0, gt=0)  # retry a chat the bot cannot write to after this
    max_backoff_seconds: float = Field(default=120.0, gt=0)
    workers_per_department: int = Field(default=1, ge=1, le=8)
    # a busy department chat (more new cards waiting than its rate budget lets out now) gets up to
    # `combine_max` non-urgent complaints in one message once `combine_min` are waiting; 0 or 1: never
    combine_min: int = Field(default=3, ge=0, le=50)
    combine_max: int = Field(default=10, ge=2, le=20)

    @field_validator("combine_max")
    @classmethod
    def _room_for_the_minimum(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("combine_min", 0)
        if minimum > 1 and value < minimum:
            raise ValueError(f"must be at least delivery.combine_min ({minimum}), or nothing is combined")
        return value


class DeadlinesConfig(Section):
    """Deadlines, reminders and escalation; working days follow the Kazakhstan calendar."""

    holidays: list[date] = Field(default_factory=list)  # public holidays and transferred days off
    workdays: list[date] = Field(default_factory=list)  # Saturdays made working days by a transfer
    remind_before_hours: float = Field(default=4.0, ge=0)
    escalate_to_official_after_hours: float = Field(default=24.0, ge=0)  # after the head was told
    check_every_minutes: int = Field(default=5, ge=1, le=60)


class DigestsConfig(Section):
    """Digests for department heads (officials set theirs under officials[].digest)."""

    department_heads_schedule: CronSchedule | None = "0 9 * * 1-5"
    top_problems: int = Field(default=5, ge=1, le=20)
    allowed_chats: list[ChatId] = Field(default_factory=list)  # extra chats where /digest works


class DuplicatesConfig(Section):
    """When two complaints are the same problem."""

    window_hours: float = Field(default=48.0, gt=0)
    similarity: float = Field(default=0.45, gt=0, le=1)


class RetentionConfig(Section):
    """How long residents' personal data is kept before it is erased (see README, "Personal data")."""

    # after a complaint is closed, its author's name, username, phone and Telegram link are kept this long
    personal_data_days: int = Field(default=365, ge=1)
    # raw updates (names, phones, texts) are deleted this long after they were received; Telegram
    # redelivers an update for at most a day, so the inbox's duplicate check needs no longer than that
    inbox_days: int = Field(default=30, ge=2)
    failed_inbox_days: int = Field(default=90, ge=2)  # updates that failed to process: kept for a human
    drafts_days: int = Field(default=30, ge=1)  # private-chat drafts nobody touched for this long
    schedule: CronSchedule | None = "30 3 * * *"  # cron, local time; null: never erase automatically


class DepartmentConfig(Section):
    """A department with its Telegram desk chat and staff."""

    id: Identifier
    name: LocalizedName
    chat_id: ChatId
    staff: list[UserId] = Field(default_factory=list)
    head: UserId | None = None
    sla_hours: int = Field(default=72, gt=0)
    sla_working_days: int | None = Field(default=None, gt=0)  # instead of hours, when set
    language: Language = DEFAULT_LANGUAGE


class CategoryConfig(Section):
    """A complaint category and the department that owns it."""

    id: Identifier
    department: Identifier
    name: LocalizedName
    keywords: dict[Language, list[str]] = Field(default_factory=dict)
    sla_hours: int | None = Field(default=None, gt=0)
    sla_working_days: int | None = Field(default=None, gt=0)


class DistrictConfig(Section):
    """A city district with the names residents use for it."""

    id: Identifier
    name: LocalizedName
    aliases: list[str] = Field(default_factory=list)


class ClassifierConfig(Section):
    """Which classifier runs, and how sure it must be before it routes on its own."""

    engine: Literal["model", "keywords"] = "model"
    # None: the model's own threshold, chosen by cross-validation on the training rows (README "Classifier")
    complaint_threshold: float | None = Field(default=None, ge=0, le=1)
    category_threshold: float = Field(default=0.35, ge=0, le=1)
    districts_geojson: Path | None = None  # district polygons: a shared location is mapped to a district
    fallback_category: str = "other"  # when absent from categories, the best guess is kept, flagged
    # the trained model's cache (relative to the working directory); SHAGYM_CACHE_DIR overrides it
    cache_dir: Path = Path("var/cache")


class ResidentsConfig(Section):
    """Limits for residents writing to the bot directly."""

    max_complaints_per_hour: int = Field(default=5, ge=1)
    min_text_length: int = Field(default=10, ge=1)
    max_text_length: int = Field(default=3000, ge=100, le=4000)
    max_photos: int = Field(default=5, ge=0, le=10)
    ask_confirmation_after_resolve: bool = True


class LoggingConfig(Section):
    """Log level and format."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(default=False, alias="json")


class ObservabilityConfig(Section):
    """The HTTP endpoint with /healthz and Prometheus /metrics."""

    enabled: bool = True
    host: str = "127.0.0.1"  # 0.0.0.0 lets a Prometheus on another host (or container) scrape it
    port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port (tests)
    counts_cache_seconds: float = Field(default=10.0, ge=0)  # complaint and inbox counts per scrape
    check_timeout_seconds: float = Field(default=2.0, gt=0)  # database and queue answers in /healthz
