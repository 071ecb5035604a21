"""The config's building blocks: ids, Telegram ids, cron schedules, the base of every section, issues."""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

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
    "SHAGYM_CACHE_DIR": ("classifier", "cache_dir"),
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
