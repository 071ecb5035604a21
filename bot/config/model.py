"""The whole configuration of one city, and the directory lookups on it."""

from __future__ import annotations

import zoneinfo
from typing import Any

from pydantic import (
    Field,
    PrivateAttr,
    field_validator,
)

from bot.config.fields import ConfigIssue, Section
from bot.config.sections import (
    CategoryConfig,
    ClassifierConfig,
    DeadlinesConfig,
    DeliveryConfig,
    DepartmentConfig,
    DigestsConfig,
    DistrictConfig,
    DuplicatesConfig,
    LoggingConfig,
    ObservabilityConfig,
    OfficialConfig,
    ResidentsConfig,
    RetentionConfig,
    StorageConfig,
    TelegramConfig,
    WatchConfig,
)


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

    def department_chats(self) -> frozenset[int]:
        """The departments' chats, where cards are posted and staff answer them."""
        return frozenset(d.chat_id for d in self.departments)

    def digest_chats(self) -> frozenset[int]:
        """Chats where /digest may work: officials' and heads' digest chats, department and allowed chats,
        and the admins' private chats (the digest service decides whom a digest there is for)."""
        return self.department_chats() | frozenset(
            [o.digest.chat_id for o in self.officials if o.digest is not None]
            + [d.head for d in self.departments if d.head is not None]
            + list(self.digests.allowed_chats)
            + list(self.telegram.admins)
        )

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
