"""Shagym configuration: one YAML file validated by pydantic models, one model per section.

Errors name the key path and the YAML line so a city's IT admin can fix a typo without reading code.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import types
import typing
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from bot.config.source import YamlSource, YamlSyntaxError, read_yaml
from bot.config.text import describe, invisible_characters, mixed_scripts, strip_invisible
from bot.core.text import is_int64

Language = Literal["ru", "kk", "en"]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


def _cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a valid cron expression (minute hour day month weekday)")
    return value


CronSchedule = Annotated[str, AfterValidator(_cron)]  # minute hour day month weekday, local time


def _telegram_id(value: int) -> int:
    # the database keeps ids in 64-bit columns; a longer number would only fail later, in `run`
    if not is_int64(value):
        raise PydanticCustomError(
            "telegram_id_range",
            "must be a Telegram id, a signed 64-bit integer (from -9223372036854775808 to "
            "9223372036854775807); {value} is out of range",
            {"value": value},
        )
    return value


ChatId = Annotated[StrictInt, AfterValidator(_telegram_id)]
UserId = Annotated[StrictInt, AfterValidator(_telegram_id)]
# Telegram's rule for setWebhook's secret_token
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")

ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "SHAGYM_BOT_TOKEN": ("telegram", "token"),
    "SHAGYM_API_URL": ("telegram", "api_url"),
    "SHAGYM_DATABASE_URL": ("storage", "database_url"),
    "SHAGYM_REDIS_URL": ("storage", "redis_url"),
}


def _is_number_field(annotation: Any) -> bool:
    """True for int and float fields (alone or with None), never for bool ones."""
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(members) and all(a in (int, float) for a in members)
    return False


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic would take true as 1, and YAML 1.1 reads yes/no/on/off as booleans: `sla_hours: yes`
        # must not become a one-hour deadline; infinity would overflow the first timedelta built from it
        if info.field_name is None or not _is_number_field(cls.model_fields[info.field_name].annotation):
            return value
        if isinstance(value, bool):
            raise PydanticCustomError("bool_for_number", "must be a number, not a boolean")
        if isinstance(value, float) and not math.isfinite(value):
            raise PydanticCustomError(
                "finite_number", "must be a finite number, got {value}", {"value": value}
            )
        return value


class LocalizedName(Section):
    """A name in Russian, Kazakh and English."""

    ru: str = Field(min_length=1)
    kk: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        """The name in `language`, falling back to Russian."""
        return str(getattr(self, language, self.ru))


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
    language: Language = "ru"


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
    language: Language = "ru"


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


class Config(Section):
    """The whole configuration of one city's Shagym."""

    city: str = Field(min_length=1)
    timezone: str = "Asia/Almaty"
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    officials: list[OfficialConfig] = Field(default_factory=list)
    departments: list[DepartmentConfig] = Field(default_factory=list)
    categories: list[CategoryConfig] = Field(default_factory=list)
    districts: list[DistrictConfig] = Field(default_factory=list)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    residents: ResidentsConfig = Field(default_factory=ResidentsConfig)
    deadlines: DeadlinesConfig = Field(default_factory=DeadlinesConfig)
    digests: DigestsConfig = Field(default_factory=DigestsConfig)
    duplicates: DuplicatesConfig = Field(default_factory=DuplicatesConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    # set by the loader: things that are valid but probably not meant (see `config_warnings`)
    _warnings: tuple[ConfigIssue, ...] = PrivateAttr(default=())

    @property
    def warnings(self) -> tuple[ConfigIssue, ...]:
        """What the loader found suspicious but valid, e.g. an invisible character in an alias."""
        return self._warnings

    @field_validator(
        "telegram", "storage", "watch", "classifier", "delivery", "residents", "deadlines", "digests",
        "duplicates", "retention", "logging", "observability", mode="before",
    )  # fmt: skip
    @classmethod
    def _empty_section_takes_defaults(cls, value: Any) -> Any:
        # `telegram:` with everything under it commented out is a section left out, not a type error
        return {} if value is None else value

    @field_validator("officials", "departments", "categories", "districts", mode="before")
    @classmethod
    def _empty_list_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Asia/Almaty") from None
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The city's timezone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def department(self, department_id: str) -> DepartmentConfig:
        """The department with this id (KeyError when unknown)."""
        for department in self.departments:
            if department.id == department_id:
                return department
        raise KeyError(department_id)

    def department_name(self, department_id: str, language: str) -> str:
        """A department's name in `language` (its id when unknown, e.g. removed from the config)."""
        for department in self.departments:
            if department.id == department_id:
                return department.name.get(language)
        return department_id

    def category_name(self, category_id: str, language: str) -> str:
        """A category's name in `language` (its id when unknown)."""
        for category in self.categories:
            if category.id == category_id:
                return category.name.get(language)
        return category_id

    def district_name(self, district_id: str, language: str) -> str:
        """A district's name in `language` (its id when unknown)."""
        for district in self.districts:
            if district.id == district_id:
                return district.name.get(language)
        return district_id

    def category(self, category_id: str) -> CategoryConfig:
        """The category with this id (KeyError when unknown)."""
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a config file."""

    path: tuple[str | int, ...]
    message: str
    line: int | None = None

    @property
    def key(self) -> str:
        """Dotted key path, e.g. departments[2].chat_id."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out or "(top level)"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.key}: {self.message}"

    def located(self, source: str) -> str:
        """`source:line: key: message`, the form editors and CI logs link to."""
        where = f"{source}:{self.line}" if self.line is not None else source
        return f"{where}: {self.key}: {self.message}"


class ConfigError(Exception):
    """The config file could not be read or is invalid; carries every issue found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  {issue.located(source)}" for issue in issues)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


def _line_for(index: Mapping[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in index:
            return index[path[:end]]
    return None


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for variable, path in ENV_OVERRIDES.items():
        if variable in environ:
            _set_path(data, path, environ[variable])


def _duplicates(values: Iterable[Any]) -> set[Any]:
    seen: set[Any] = set()
    dupes: set[Any] = set()
    for value in values:
        (dupes if value in seen else seen).add(value)
    return dupes


def _cross_check(config: Config) -> list[ConfigIssue]:
    """Checks that span sections: references resolve and ids are unique."""
    issues: list[ConfigIssue] = []
    for section in ("officials", "departments", "categories", "districts"):
        items = getattr(config, section)
        dupes = _duplicates(item.id for item in items)
        for position, item in enumerate(items):
            if item.id in dupes:
                issues.append(ConfigIssue((section, position, "id"), f"duplicate id {item.id!r}"))
    department_ids = {department.id for department in config.departments}
    if config.categories and not config.departments:
        # one error for the cause, not one "unknown department" per category
        issues.append(ConfigIssue(("departments",), _empty_section(config, "departments", "categories")))
    for position, category in enumerate(config.categories if config.departments else ()):
        if category.department not in department_ids:
            issues.append(
                ConfigIssue(
                    ("categories", position, "department"),
                    f"unknown department {category.department!r}; known: {', '.join(sorted(department_ids))}",
                )
            )
    category_ids = {category.id for category in config.categories}
    # the default "other" may be absent from a small config; an explicit choice must exist
    explicit = "fallback_category" in config.classifier.model_fields_set
    if explicit and not config.categories:
        issues.append(
            ConfigIssue(
                ("categories",),
                _empty_section(
                    config,
                    "categories",
                    f"classifier.fallback_category ({config.classifier.fallback_category!r})",
                ),
            )
        )
    elif explicit and config.classifier.fallback_category not in category_ids:
        issues.append(
            ConfigIssue(
                ("classifier", "fallback_category"),
                f"unknown category {config.classifier.fallback_category!r}; known: "
                f"{', '.join(sorted(category_ids))}",
            )
        )
    if config.telegram.mode == "webhook" and not config.telegram.webhook.url:
        issues.append(
            ConfigIssue(
                ("telegram", "webhook", "url"),
                "telegram.mode is webhook, so Telegram needs the public https:// URL to post updates to, "
                "e.g. https://bot.example.kz/telegram/webhook (or use mode: polling)",
            )
        )
    usernames = [(p, name) for p, o in enumerate(config.officials) for name in o.usernames]
    dupes = _duplicates(name for _, name in usernames)
    for position, name in usernames:
        if name in dupes:
            issues.append(
                ConfigIssue(("officials", position, "usernames"), f"@{name} belongs to two officials")
            )
    dupes = _duplicates(d.chat_id for d in config.departments)
    for position, department in enumerate(config.departments):
        if department.chat_id in dupes:
            issues.append(
                ConfigIssue(("departments", position, "chat_id"), f"chat {department.chat_id} used twice")
            )
    return issues


def _empty_section(config: Config, section: str, needed_by: str) -> str:
    state = "empty" if section in config.model_fields_set else "missing"
    return f"no {section} are configured (`{section}:` is {state}), but {needed_by} refers to them"


# where residents' words are matched: an invisible character or a look-alike letter there never matches
_MATCHED_TEXT: tuple[tuple[str, ...], ...] = (
    ("city",),
    ("officials", "*", "name", "*"),
    ("officials", "*", "aliases", "*"),
    ("officials", "*", "usernames", "*"),
    ("departments", "*", "name", "*"),
    ("categories", "*", "name", "*"),
    ("categories", "*", "keywords", "*", "*"),
    ("districts", "*", "name", "*"),
    ("districts", "*", "aliases", "*"),
)


def _texts(node: Any, pattern: tuple[str, ...], path: tuple[str | int, ...] = ()) -> Iterable[Any]:
    if not pattern:
        if isinstance(node, str):
            yield path, node
        return
    head, rest = pattern[0], pattern[1:]
    if isinstance(node, dict):
        for key, value in node.items():
            if head in ("*", key):
                yield from _texts(value, rest, (*path, str(key)))
    elif isinstance(node, list) and head == "*":
        for position, value in enumerate(node):
            yield from _texts(value, rest, (*path, position))


def config_warnings(data: Mapping[str, Any], lines: Mapping[tuple[str | int, ...], int]) -> list[ConfigIssue]:
    """Valid but suspicious text in names, aliases, usernames and keywords (invisible or mixed-script)."""
    warnings = []
    for pattern in _MATCHED_TEXT:
        for path, text in _texts(data, pattern):
            line = _line_for(lines, path)
            for character in invisible_characters(text):
                warnings.append(
                    ConfigIssue(
                        path,
                        f"warning: {text!r} contains the invisible character {character}; it keeps the "
                        "text from matching what residents type, delete it (retype the word)",
                        line,
                    )
                )
            for problem in mixed_scripts(text):
                warnings.append(
                    ConfigIssue(
                        path,
                        f"warning: {problem}; letters that look alike but differ never match what "
                        "residents type",
                        line,
                    )
                )
    return warnings


_ANCHORS: dict[tuple[str | int, ...], tuple[str | int, ...]] = {
    ("telegram", "webhook", "url"): ("telegram", "mode"),
    ("categories",): ("classifier", "fallback_category"),
    ("departments",): ("categories",),
}


def _sections(model: type[BaseModel], path: str = "") -> Iterable[tuple[str, type[BaseModel]]]:
    """Every nested section model with its dotted path (list items marked `[]`)."""
    for name, info in model.model_fields.items():
        annotation = info.annotation
        item = typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation
        members = (
            typing.get_args(item) if typing.get_origin(item) in (typing.Union, types.UnionType) else (item,)
        )
        for member in members:
            if isinstance(member, type) and issubclass(member, Section) and member is not LocalizedName:
                dotted = f"{path}.{name}" if path else name
                dotted += "[]" if item is not annotation else ""
                yield dotted, member
                yield from _sections(member, dotted)


def _belongs_elsewhere(key: str) -> str:
    """For an unknown top-level key that some section has: the hint that it lost its indentation."""
    owners = [
        path
        for path, model in _sections(Config)
        if key in model.model_fields or any(f.alias == key for f in model.model_fields.values())
    ]
    if not owners:
        return ""
    return (
        f"; `{key}` is a key of {' and '.join(owners)}: if it belongs there, indent it under its "
        "section (was it moved back to the margin?)"
    )


def _read(text: str, source: str) -> YamlSource:
    try:
        document = read_yaml(text)
    except YamlSyntaxError as exc:
        raise ConfigError(source, [ConfigIssue((), exc.message, exc.line)]) from None
    if document.data is not None and not isinstance(document.data, dict):
        raise ConfigError(source, [ConfigIssue((), "the top level must be a mapping of sections", 1)])
    return document


def parse_config(text: str, *, source: str = "<config>", environ: Mapping[str, str] | None = None) -> Config:
    """Validate YAML text into a Config, applying SHAGYM_* overrides; raise ConfigError listing issues."""
    environ = os.environ if environ is None else environ
    document = _read(text, source)
    data: dict[str, Any] = document.data if document.data is not None else {}
    index = document.lines
    duplicates = [
        ConfigIssue(
            dup.path,
            f"duplicate key: written twice (line {dup.first_line} and line {dup.second_line}); YAML would "
            "silently keep only the last one: delete or rename one of them",
            dup.second_line,
        )
        for dup in document.duplicates
    ]
    _apply_env(data, environ)
    issues: list[ConfigIssue] = []
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path = tuple(part for part in error["loc"] if isinstance(part, str | int))
            # pydantic adds the union member name to the loc ("list[int]"); it is noise for a human
            path = tuple(p for p in path if not (isinstance(p, str) and ("[" in p or p == "literal")))
            message = _human_message(error, document.scalars.get(path))
            if error["type"] == "extra_forbidden" and len(path) == 1:
                message += _belongs_elsewhere(str(path[0]))
            issues.append(ConfigIssue(path, message, _line_for(index, path)))
        raise ConfigError(source, duplicates + _dedupe(issues)) from None
    for issue in _cross_check(config):
        # a missing key has no line of its own: point at what asked for it
        anchor = issue.path if issue.path in index else _ANCHORS.get(issue.path, issue.path)
        issues.append(ConfigIssue(issue.path, issue.message, _line_for(index, anchor)))
    if duplicates or issues:
        raise ConfigError(source, duplicates + issues)
    config._warnings = tuple(config_warnings(data, index))
    return config


def _dedupe(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Drop repeats, and errors on a key whose children have errors (union members say the same)."""
    paths = {issue.path for issue in issues}
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    out = []
    for issue in issues:
        if any(len(other) > len(issue.path) and other[: len(issue.path)] == issue.path for other in paths):
            continue
        if (issue.path, issue.message) not in seen:
            seen.add((issue.path, issue.message))
            out.append(issue)
    return out


_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "extra_forbidden": lambda e: "unknown key (misspelled?)",
    "missing": lambda e: "required key is missing",
    "int_type": lambda e: f"must be an integer, got {e.get('input')!r}",
}


def _human_message(error: Any, written: str | None = None) -> str:
    if isinstance(error.get("input"), bool) and error["type"] in ("bool_for_number", "int_type"):
        # YAML 1.1 reads yes/no/on/off/true/false as booleans; say what was written, not "True"
        shown = repr(written) if written is not None else repr(error["input"]).lower()
        kind = "an integer" if error["type"] == "int_type" else "a number"
        return f"must be {kind}, got {shown}, which YAML reads as a boolean (yes/no/on/off/true/false)"
    if isinstance(error.get("input"), bool) and error["type"] == "string_type" and written is not None:
        return f"must be text, got {written!r}, which YAML reads as a boolean: put it in quotes"
    formatter = _MESSAGES.get(error["type"])
    if formatter is not None:
        return formatter(error)
    return str(error["msg"]).removeprefix("Value error, ")


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """SHAGYM_CONFIG when set, otherwise ./config.yaml."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("SHAGYM_CONFIG") or "config.yaml")


def load_config(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at `path` (default: SHAGYM_CONFIG, then ./config.yaml)."""
    resolved = Path(path) if path is not None else default_config_path(environ)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(resolved), [ConfigIssue((), f"cannot read the file: {exc.strerror}")]) from None
    return parse_config(text, source=str(resolved), environ=environ)
