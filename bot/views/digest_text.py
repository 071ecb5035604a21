"""The digest as people read it: the HTML message, the chart's caption and its rows.

What a digest never contains is decided here as much as in the query: no author names, usernames,
phone numbers or resident ids, and never a complaint's text; an item is its number, category,
district, status and a link to a group or channel message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.text import escape_html
from bot.views.cards import message_link
from bot.views.digest_chart import ChartData
from bot.views.i18n import CatalogSection, t

# The digest's texts live in the one catalog (bot/views/locales) under "digest."; their view by short key.
DIGEST_TEXTS = CatalogSection("digest.")
MIN_RESOLVED_FOR_SPEED = 3  # a department is ranked by speed only with this many resolutions
SPEED_RANKED = 3  # how many fastest and slowest departments are shown


@dataclass(frozen=True)
class DigestRecipient:
    """Who gets a digest: an official (city-wide) or a department head (their department only)."""

    key: str  # "official:akim", "head:utilities"
    chat_id: int
    language: str
    department_id: str | None  # None: city-wide


def _t(key: str, language: str, **values: Any) -> str:
    return t(f"digest.{key}", language, **values)


@dataclass(frozen=True)
class Spike:
    """A category or district whose count in the period is far above its usual level."""

    kind: str  # "category" | "district"
    key: str
    count: int
    mean: float
    std: float  # the floored σ used by the rule: max(σ, √μ)

    @property
    def score(self) -> float:
        """How many (floored) standard deviations above the mean."""
        return (self.count - self.mean) / self.std if self.std > 0 else math.inf


# ---------------------------------------------------------------- statistics gathered from the database


@dataclass
class _Link:
    source: str
    chat_id: int
    message_id: int
    chat_username: str | None

    def url(self) -> str | None:
        # a private chat's "username" is the resident's own: never link it
        if self.source == ComplaintSource.PRIVATE.value or self.chat_id > 0:
            return None
        return message_link(self.chat_id, self.message_id, self.chat_username)


@dataclass
class _Item:
    number: int
    category: str
    district: str | None
    status: str
    link: _Link
    count: int = 0


@dataclass
class _Stats:
    new: int = 0
    new_prev: int = 0
    resolved: int = 0
    resolved_prev: int = 0
    overdue: int = 0
    overdue_prev: int = 0
    by_department: dict[str, list[int]] = field(default_factory=dict)  # id -> [new, prev, resolved, overdue]
    by_category: dict[str, list[int]] = field(default_factory=dict)  # id -> [new, prev, resolved]
    places: list[tuple[str, str, int, _Link | None]] = field(default_factory=list)
    repeated: list[_Item] = field(default_factory=list)
    urgent: list[_Item] = field(default_factory=list)
    urgent_total: int = 0
    spikes: list[Spike] = field(default_factory=list)
    spike_windows: int = 0
    medians: dict[str, tuple[float, int]] = field(default_factory=dict)  # department -> (seconds, count)


class DigestRenderer:
    """Renders gathered digest statistics for one recipient, in their language."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def _department_name(self, department_id: str, lang: str) -> str:
        return self._config.department_name(department_id, lang)

    def _category_name(self, category_id: str, lang: str) -> str:
        return self._config.category_name(category_id, lang)

    def _district_name(self, district_id: str | None, lang: str) -> str:
        if district_id is None:
            return t("card.district_unknown", lang)
        return self._config.district_name(district_id, lang)

    def _period(self, start: datetime, end: datetime) -> tuple[str, str]:
        tz = self._config.tz
        return (
            start.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
            end.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
        )

    def render(self, stats: _Stats, recipient: DigestRecipient, start: datetime, end: datetime) -> str:
        lang = recipient.language
        e = escape_html
        head_only = recipient.department_id is not None
        lines = [f"<b>{e(_t('title', lang, city=self._config.city))}</b>"]
        if head_only:
            assert recipient.department_id is not None
            name = self._department_name(recipient.department_id, lang)
            lines.append(e(_t("department", lang, name=name)))
        first, last = self._period(start, end)
        lines.append(e(_t("period", lang, start=first, end=last)))
        lines.append(f"<i>{e(_t('compared', lang))}</i>")

        sections: list[list[str]] = []
        sections.append(
            [
                f"<b>{e(_t('section.summary', lang))}</b>",
                e(_t("summary.new", lang, value=_with_delta(stats.new, stats.new_prev))),
                e(_t("summary.resolved", lang, value=_with_delta(stats.resolved, stats.resolved_prev))),
                e(_t("summary.overdue", lang, value=_with_delta(stats.overdue, stats.overdue_prev))),
            ]
        )

        if not head_only:
            section = [f"<b>{e(_t('section.departments', lang))}</b>"]
            active = [(k, v) for k, v in stats.by_department.items() if v[0] or v[2] or v[3]]
            active.sort(key=lambda kv: (-kv[1][0], -kv[1][3], self._department_name(kv[0], lang)))
            for department, (new, prev, resolved, overdue) in active:
                line = _t(
                    "department.item",
                    lang,
                    name=self._department_name(department, lang),
                    new=_with_delta(new, prev),
                    resolved=resolved,
                    overdue=overdue,
                )
                section.append(f"• {e(line)}")
            if not active:
                section.append(e(_t("none", lang)))
            sections.append(section)

        section = [f"<b>{e(_t('section.categories', lang))}</b>"]
        categories = [(k, v) for k, v in stats.by_category.items() if v[0]]
        categories.sort(key=lambda kv: (-kv[1][0], self._category_name(kv[0], lang)))
        for category, (new, prev, _resolved) in categories:
            section.append(f"• {e(self._category_name(category, lang))}: {e(_with_delta(new, prev))}")
        if not categories:
            section.append(e(_t("none", lang)))
        sections.append(section)

        section = [f"<b>{e(_t('section.repeated', lang))}</b>"]
        for item in stats.repeated:
            label = _t(
                "repeated.duplicates",
                lang,
                number=item.number,
                category=self._category_name(item.category, lang),
                district=self._district_name(item.district, lang),
                count=item.count,
            )
            section.append(f"• {e(label)}{_anchor(item.link, _t('link.message', lang))}")
        for category, district, count, link in stats.places:
            label = _t(
                "repeated.place",
                lang,
                category=self._category_name(category, lang),
                district=self._district_name(district, lang),
                count=count,
            )
            section.append(f"• {e(label)}{_anchor(link, _t('link.latest', lang))}")
        if not stats.repeated and not stats.places:
            section.append(e(_t("none", lang)))
        sections.append(section)

        section = [f"<b>{e(_t('section.urgent', lang))}</b>"]
        for item in stats.urgent:
            label = _t(
                "urgent.item",
                lang,
                number=item.number,
                category=self._category_name(item.category, lang),
                district=self._district_name(item.district, lang),
                status=_status(item.status, lang),
            )
            section.append(f"• {e(label)}{_anchor(item.link, _t('link.message', lang))}")
        if stats.urgent_total > len(stats.urgent):
            section.append(e(_t("urgent.more", lang, count=stats.urgent_total - len(stats.urgent))))
        if not stats.urgent_total:
            section.append(e(_t("none", lang)))
        sections.append(section)

        section = [f"<b>{e(_t('section.spikes', lang))}</b>"]
        if stats.spike_windows == 0:
            section.append(e(_t("spike.no_history", lang)))
        else:
            for spike in stats.spikes:
                name = (
                    self._category_name(spike.key, lang)
                    if spike.kind == "category"
                    else self._district_name(spike.key, lang)
                )
                label = _t(
                    "spike.item",
                    lang,
                    kind=_t(f"spike.{spike.kind}", lang),
                    name=name,
                    count=spike.count,
                    mean=_decimal(spike.mean, lang),
                    std=_decimal(spike.std, lang),
                )
                section.append(f"• {e(label)}")
            if not stats.spikes:
                section.append(e(_t("none", lang)))
            section.append(f"<i>{e(_t('spike.rule', lang))}</i>")
        sections.append(section)

        section = [f"<b>{e(_t('section.speed', lang))}</b>"]
        if head_only:
            for department, (median, count) in stats.medians.items():
                label = _t(
                    "speed.item",
                    lang,
                    name=self._department_name(department, lang),
                    duration=_duration(median, lang),
                    count=count,
                )
                section.append(f"• {e(label)}")
        else:
            ranked = sorted(
                ((m, n, d) for d, (m, n) in stats.medians.items() if n >= MIN_RESOLVED_FOR_SPEED),
                key=lambda x: (x[0], x[2]),
            )
            # fastest and slowest never overlap; a single ranked department is listed on its own
            shown = min(SPEED_RANKED, len(ranked) // 2)
            groups = [("speed.fastest", ranked[:shown]), ("speed.slowest", ranked[::-1][:shown])]
            if len(ranked) == 1:
                groups = [("", ranked)]
            for heading, group in groups:
                if heading and group:
                    section.append(f"<i>{e(_t(heading, lang))}</i>")
                for median, count, department in group:
                    label = _t(
                        "speed.item",
                        lang,
                        name=self._department_name(department, lang),
                        duration=_duration(median, lang),
                        count=count,
                    )
                    section.append(f"• {e(label)}")
        if len(section) == 1:
            section.append(e(_t("none", lang)))
        sections.append(section)

        return "\n".join(lines) + "\n\n" + "\n\n".join("\n".join(s) for s in sections)

    def caption(self, stats: _Stats, recipient: DigestRecipient, start: datetime, end: datetime) -> str:
        lang = recipient.language
        first, last = self._period(start, end)
        chart = "chart.departments" if recipient.department_id is None else "chart.categories"
        lines = [_t(chart, lang), _t("period", lang, start=first, end=last)]
        if recipient.department_id is not None:
            lines.insert(0, _t("department", lang, name=self._department_name(recipient.department_id, lang)))
        lines.append(
            " · ".join(
                [
                    _t("summary.new", lang, value=_with_delta(stats.new, stats.new_prev)),
                    _t("summary.resolved", lang, value=_with_delta(stats.resolved, stats.resolved_prev)),
                    _t("summary.overdue", lang, value=_with_delta(stats.overdue, stats.overdue_prev)),
                ]
            )
        )
        return escape_html("\n".join(lines))

    def chart_data(self, stats: _Stats, recipient: DigestRecipient) -> ChartData:
        lang = recipient.language
        rows: list[tuple[str, int, int]]
        if recipient.department_id is None:
            known = [d.id for d in self._config.departments]
            keys = known + sorted(k for k in stats.by_department if k not in known)
            rows = [(self._department_name(k, lang), *_pick(stats.by_department.get(k), 0, 2)) for k in keys]
            title = _t("chart.departments", lang)
        else:
            own = [c.id for c in self._config.categories if c.department == recipient.department_id]
            keys = own + sorted(k for k in stats.by_category if k not in own)
            rows = [(self._category_name(k, lang), *_pick(stats.by_category.get(k), 0, 2)) for k in keys]
            title = _t("chart.categories", lang)
        rows.sort(key=lambda r: (-(r[1] + r[2]), r[0]))
        return ChartData(
            title=title,
            new_label=_t("chart.new", lang),
            resolved_label=_t("chart.resolved", lang),
            axis_label=_t("chart.axis", lang),
            empty_label=_t("chart.empty", lang),
            rows=tuple(rows),
        )


_STATUSES = frozenset(s.value for s in ComplaintStatus)


def _status(status: str, lang: str) -> str:
    return t(f"status.{status}", lang) if status in _STATUSES else status


def _pick(values: list[int] | None, new: int, resolved: int) -> tuple[int, int]:
    return (values[new], values[resolved]) if values else (0, 0)


def _with_delta(value: int, previous: int) -> str:
    """Like "12 (▲ +4)", "8 (▼ −2)", "5 (±0)"."""
    change = value - previous
    if change > 0:
        return f"{value} (▲ +{change})"
    if change < 0:
        return f"{value} (▼ −{-change})"
    return f"{value} (±0)"


def _decimal(value: float, lang: str) -> str:
    text = f"{value:.1f}"
    return text if lang == "en" else text.replace(".", ",")


def _duration(seconds: float, lang: str) -> str:
    """Like "2 д 5 ч", "3 ч 20 мин", "45 мин" (at least 1 minute)."""
    minutes = max(1, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    day, hour, minute = _t("unit.day", lang), _t("unit.hour", lang), _t("unit.minute", lang)
    if days:
        return f"{days} {day} {hours} {hour}" if hours else f"{days} {day}"
    if hours:
        return f"{hours} {hour} {minutes} {minute}" if minutes else f"{hours} {hour}"
    return f"{minutes} {minute}"


def _anchor(link: _Link | None, label: str) -> str:
    url = link.url() if link is not None else None
    if url is None:
        return ""
    return f' — <a href="{escape_html(url, quote=True)}">{escape_html(label)}</a>'


# ------------------------------------------------------------------------------------------------ chart
