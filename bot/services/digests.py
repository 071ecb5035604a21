"""Officials' and department heads' digests: what came in, what got done, what is late, what is new.

A digest covers the period [start, end) (normally from the schedule's previous fire time to now) and
compares it with the previous period of the same length. Everything is counted in SQL (GROUP BY over the
indexed created_at range), so a digest over a database of 100,000 complaints builds in well under a
second; only aggregates, at most `top_problems` repeated problems and a capped list of urgent items reach
Python.

What is counted: "new" = complaints created in the period, except those rejected as not complaints
(duplicates count: each is a resident reporting); "resolved" = status resolved with resolved_at in the
period; "overdue" at a moment T = deadline_at < T, created before T, and open at T (still open, or resolved
only at or after T; rejected and duplicate complaints never count). The summary shows overdue at the end
of the period against overdue at its start.

What a digest never contains: personal data. No author names, usernames, phone numbers or resident ids,
and never a complaint's text (residents write names and phone numbers in it): a complaint appears only as
its number, category, district, status and a t.me link to the original message in a group or channel
(private chats with the bot get no link: their "username" would be the resident's).

Emerging problems (spikes): for each category and each district, the count in the period is compared
with the counts in the same-length windows just before it, over the previous 4 weeks (at most
`SPIKE_WINDOWS` windows, and only windows after the first complaint in the database, so a bot that
started yesterday does not call everything a spike). With mean μ and standard deviation σ of those
windows, σ is floored at √μ (counts are roughly Poisson, and a perfectly steady history must not make
every +1 a spike); a count is a spike when count ≥ 3 and count > μ + 3·max(σ, √μ).

The chart (new vs resolved per department, or per category for a department head) is drawn with
matplotlib's object API on the Agg backend in a worker thread, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.lifecycle import UNRESOLVED, statuses
from bot.core.text import escape_html, split_message, truncate
from bot.views.cards import CAPTION_LIMIT, MESSAGE_LIMIT, message_link
from bot.views.i18n import CatalogSection, t
from storage.models import ComplaintRow

__all__ = [
    "DIGEST_TEXTS",
    "SPIKE_MIN_COUNT",
    "SPIKE_SIGMAS",
    "ChartData",
    "Digest",
    "DigestBuilder",
    "DigestRecipient",
    "Spike",
    "find_spikes",
    "previous_run",
    "render_chart",
]

SPIKE_HISTORY = timedelta(weeks=4)
SPIKE_WINDOWS = 28  # at most this many history windows (a daily digest: exactly the 4 weeks)
SPIKE_MIN_COUNT = 3
SPIKE_SIGMAS = 3.0
URGENT_LIMIT = 60  # urgent items listed by number; the rest are counted
MIN_RESOLVED_FOR_SPEED = 3  # a department is ranked by speed only with this many resolutions
SPEED_RANKED = 3  # how many fastest and slowest departments are shown
CHART_SIZE_INCHES = (8.0, 6.0)
CHART_DPI = 100  # 800 x 600 pixels, whatever the data
CHART_LABEL_LIMIT = 40

OPEN_STATUSES = statuses(UNRESOLVED)
_REJECTED = ComplaintStatus.REJECTED.value
_DUPLICATE = ComplaintStatus.DUPLICATE.value
_RESOLVED = ComplaintStatus.RESOLVED.value

# The digest's texts live in the one catalog (bot/views/locales) under "digest."; their view by short key.
DIGEST_TEXTS = CatalogSection("digest.")


def _t(key: str, language: str, **values: Any) -> str:
    return t(f"digest.{key}", language, **values)


@dataclass(frozen=True)
class DigestRecipient:
    """Who gets a digest: an official (city-wide) or a department head (their department only)."""

    key: str  # "official:akim", "head:utilities"
    chat_id: int
    language: str
    department_id: str | None  # None: city-wide


@dataclass(frozen=True)
class Digest:
    """A rendered digest: HTML message parts (each ≤ 4096 UTF-16 units), a PNG chart and its caption."""

    parts: list[str]
    chart_png: bytes
    caption: str  # HTML-escaped text, ≤ 1024 UTF-16 units


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


def find_spikes(
    kind: str, current: dict[str, int], history: dict[str, list[int]], windows: int
) -> list[Spike]:
    """Spikes among `current` counts given each key's counts in `windows` earlier windows (missing = 0).

    Rule: count ≥ SPIKE_MIN_COUNT and count > μ + SPIKE_SIGMAS·max(σ, √μ), with μ, σ the mean and
    population standard deviation of the history. Without history windows nothing is a spike.
    """
    if windows <= 0:
        return []
    spikes = []
    for key, count in current.items():
        if count < SPIKE_MIN_COUNT:
            continue
        values = list(history.get(key, []))[:windows]
        values += [0] * (windows - len(values))
        mean = sum(values) / windows
        variance = sum((v - mean) ** 2 for v in values) / windows
        std = max(math.sqrt(variance), math.sqrt(mean))
        if count > mean + SPIKE_SIGMAS * std:
            spikes.append(Spike(kind, key, count, mean, std))
    spikes.sort(key=lambda s: (-s.score, -s.count, s.key))
    return spikes


def previous_run(schedule: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The cron schedule's last fire time strictly before `now`, read in the city's timezone `tz`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    previous: datetime = croniter(schedule, now.astimezone(tz)).get_prev(datetime)
    return previous


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


def _epoch(dialect: str, column: Any) -> ColumnElement[int]:
    """Whole UTC seconds of a timestamp column, as an integer, on SQLite and PostgreSQL."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), BigInteger)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


class DigestBuilder:
    """Builds digests from the complaints table; recipients come from the config."""

    def __init__(self, config: Config, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._config = config
        self._session_factory = session_factory

    def recipients(self) -> list[DigestRecipient]:
        """Officials with a digest, then department heads when their schedule is set."""
        out = [
            DigestRecipient(f"official:{o.id}", o.digest.chat_id, o.digest.language, None)
            for o in self._config.officials
            if o.digest is not None
        ]
        if self._config.digests.department_heads_schedule is not None:
            out += [
                DigestRecipient(f"head:{d.id}", d.head, d.language, d.id)
                for d in self._config.departments
                if d.head is not None
            ]
        return out

    async def build(self, recipient: DigestRecipient, *, end: datetime, start: datetime) -> Digest:
        """The digest for [start, end) in the recipient's language, scoped to their department if any."""
        _aware(start, "start")
        _aware(end, "end")
        if start >= end:
            raise ValueError("start must be before end")
        stats = await self._collect(recipient.department_id, start, end)
        text = self._render(stats, recipient, start, end)
        chart = await asyncio.to_thread(render_chart, self._chart_data(stats, recipient))
        return Digest(
            parts=split_message(text, MESSAGE_LIMIT),
            chart_png=chart,
            caption=truncate(self._caption(stats, recipient, start, end), CAPTION_LIMIT),
        )

    # ------------------------------------------------------------------------------------------ queries

    async def _collect(self, department_id: str | None, start: datetime, end: datetime) -> _Stats:
        length = end - start
        windows = max(1, min(SPIKE_WINDOWS, int(SPIKE_HISTORY / length)))
        history_start = start - windows * length
        prev_start = start - length
        seconds = max(1, int(length.total_seconds()))
        start_epoch = math.floor(start.timestamp())
        c = ComplaintRow.__table__.c
        scope: list[ColumnElement[bool]] = []
        if department_id is not None:
            scope.append(c.department_id == department_id)
        stats = _Stats()
        async with self._session_factory() as session:
            dialect = session.get_bind().dialect.name
            first = (await session.execute(select(func.min(c.created_at)))).scalar_one_or_none()

            # new complaints by department, category and district, per window: -1 is the period itself,
            # 0 the previous period, 1.. the earlier windows used for spikes
            # (a subquery, so that PostgreSQL sees one bucket expression, not two with different parameters)
            bucket = case(
                (c.created_at >= start, literal(-1, Integer)),
                else_=(literal(start_epoch, BigInteger) - _epoch(dialect, c.created_at) - 1)
                // literal(seconds, BigInteger),
            )
            recent = (
                select(c.department_id, c.category, c.district, bucket.label("bucket"))
                .where(c.created_at >= history_start, c.created_at < end, c.status != _REJECTED, *scope)
                .subquery()
            )
            rc = recent.c
            rows = await session.execute(
                select(rc.department_id, rc.category, rc.district, rc.bucket, func.count()).group_by(
                    rc.department_id, rc.category, rc.district, rc.bucket
                )
            )
            category_history: dict[str, list[int]] = defaultdict(lambda: [0] * windows)
            district_history: dict[str, list[int]] = defaultdict(lambda: [0] * windows)
            category_now: dict[str, int] = defaultdict(int)
            district_now: dict[str, int] = defaultdict(int)
            places: dict[tuple[str, str], int] = defaultdict(int)
            for department, category, district, window, count in rows:
                window = int(window)
                if window == -1:
                    stats.new += count
                    self._slot(stats.by_department, department, 4)[0] += count
                    self._slot(stats.by_category, category, 3)[0] += count
                    category_now[category] += count
                    if district is not None:
                        district_now[district] += count
                        places[(category, district)] += count
                    continue
                if not 0 <= window < windows:
                    continue  # rounding at the history's far edge
                if window == 0:
                    stats.new_prev += count
                    self._slot(stats.by_department, department, 4)[1] += count
                    self._slot(stats.by_category, category, 3)[1] += count
                category_history[category][window] += count
                if district is not None:
                    district_history[district][window] += count

            # spikes compare with the windows the database fully covers
            covered = windows
            if first is not None:
                covered = sum(1 for k in range(windows) if start - (k + 1) * length >= first)
            stats.spike_windows = covered
            stats.spikes = find_spikes(
                "category", category_now, {k: v[:covered] for k, v in category_history.items()}, covered
            ) + find_spikes(
                "district", district_now, {k: v[:covered] for k, v in district_history.items()}, covered
            )
            stats.spikes.sort(key=lambda s: (-s.score, -s.count, s.kind, s.key))

            # resolved, in this period and the previous one
            in_period = func.sum(case((c.resolved_at >= start, 1), else_=0))
            in_previous = func.sum(case((c.resolved_at < start, 1), else_=0))
            rows = await session.execute(
                select(c.department_id, c.category, in_period, in_previous)
                .where(c.status == _RESOLVED, c.resolved_at >= prev_start, c.resolved_at < end, *scope)
                .group_by(c.department_id, c.category)
            )
            for department, category, now_count, prev_count in rows:
                stats.resolved_prev += int(prev_count or 0)
                if now_count:
                    stats.resolved += int(now_count)
                    self._slot(stats.by_department, department, 4)[2] += int(now_count)
                    self._slot(stats.by_category, category, 3)[2] += int(now_count)

            # overdue at the end of the period and at its start: past the deadline, not closed by then
            def overdue_at(moment: datetime) -> ColumnElement[int]:
                late = and_(
                    c.deadline_at < moment,
                    c.created_at < moment,
                    or_(c.status.in_(OPEN_STATUSES), and_(c.status == _RESOLVED, c.resolved_at >= moment)),
                )
                return func.sum(case((late, 1), else_=0))

            rows = await session.execute(
                select(c.department_id, overdue_at(end), overdue_at(start))
                .where(
                    c.deadline_at.is_not(None),
                    c.deadline_at < end,
                    c.status.in_((*OPEN_STATUSES, _RESOLVED)),
                    *scope,
                )
                .group_by(c.department_id)
            )
            for department, now_count, prev_count in rows:
                stats.overdue += int(now_count or 0)
                stats.overdue_prev += int(prev_count or 0)
                if now_count:
                    self._slot(stats.by_department, department, 4)[3] += int(now_count)

            top = self._config.digests.top_problems
            link_columns = (c.source, c.chat_id, c.message_id, c.chat_username)
            # open complaints other residents have repeated most
            rows = await session.execute(
                select(c.id, c.category, c.district, c.status, c.duplicate_count, *link_columns)
                .where(c.status.in_(OPEN_STATUSES), c.duplicate_count > 0, *scope)
                .order_by(c.duplicate_count.desc(), c.id)
                .limit(top)
            )
            stats.repeated = [
                _Item(r.id, r.category, r.district, r.status, _Link(*r[5:]), r.duplicate_count) for r in rows
            ]

            # the category + district pairs with most complaints, with their latest linkable message
            repeated_places = [(key, n) for key, n in places.items() if n >= 2]
            ranked = sorted(repeated_places, key=lambda item: (-item[1], item[0]))[:top]
            latest: dict[tuple[str, str], _Link] = {}
            if ranked:
                linkable = and_(c.source != ComplaintSource.PRIVATE.value, c.chat_id < 0)
                ids = await session.execute(
                    select(c.category, c.district, func.max(c.id))
                    .where(c.created_at >= start, c.created_at < end, c.status != _REJECTED, linkable, *scope)
                    .where(c.district.is_not(None))
                    .group_by(c.category, c.district)
                )
                wanted = {key for key, _ in ranked}
                by_id = {number: (category, district) for category, district, number in ids}
                by_id = {number: pair for number, pair in by_id.items() if pair in wanted}
                if by_id:
                    rows = await session.execute(select(c.id, *link_columns).where(c.id.in_(list(by_id))))
                    for r in rows:
                        latest[by_id[r.id]] = _Link(*r[1:])
            stats.places = [(cat, dist, count, latest.get((cat, dist))) for (cat, dist), count in ranked]

            # urgent complaints of the period, open ones first
            urgent_filter = (
                c.urgent.is_(True),
                c.created_at >= start,
                c.created_at < end,
                c.status.not_in((_REJECTED, _DUPLICATE)),
                *scope,
            )
            stats.urgent_total = (
                await session.execute(select(func.count()).where(*urgent_filter))
            ).scalar_one()
            if stats.urgent_total:
                closed = case((c.status.in_(OPEN_STATUSES), 0), else_=1)
                rows = await session.execute(
                    select(c.id, c.category, c.district, c.status, *link_columns)
                    .where(*urgent_filter)
                    .order_by(closed, c.id)
                    .limit(URGENT_LIMIT)
                )
                stats.urgent = [_Item(r.id, r.category, r.district, r.status, _Link(*r[4:])) for r in rows]

            # median time to resolution per department, in SQL: the middle row(s) of each ordered group
            duration = (_epoch(dialect, c.resolved_at) - _epoch(dialect, c.created_at)).label("d")
            ordered = (
                select(
                    c.department_id,
                    duration,
                    func.row_number().over(partition_by=c.department_id, order_by=duration).label("rn"),
                    func.count().over(partition_by=c.department_id).label("n"),
                )
                .where(c.status == _RESOLVED, c.resolved_at >= start, c.resolved_at < end, *scope)
                .subquery()
            )
            middle = or_(ordered.c.rn == (ordered.c.n + 1) // 2, ordered.c.rn == (ordered.c.n + 2) // 2)
            rows = await session.execute(
                select(ordered.c.department_id, func.avg(ordered.c.d), func.max(ordered.c.n))
                .where(middle)
                .group_by(ordered.c.department_id)
            )
            stats.medians = {department: (float(median), int(n)) for department, median, n in rows}
        return stats

    @staticmethod
    def _slot(table: dict[str, list[int]], key: str, size: int) -> list[int]:
        if key not in table:
            table[key] = [0] * size
        return table[key]

    # ---------------------------------------------------------------------------------------- rendering

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

    def _render(self, stats: _Stats, recipient: DigestRecipient, start: datetime, end: datetime) -> str:
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

    def _caption(self, stats: _Stats, recipient: DigestRecipient, start: datetime, end: datetime) -> str:
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

    def _chart_data(self, stats: _Stats, recipient: DigestRecipient) -> ChartData:
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


@dataclass(frozen=True)
class ChartData:
    """What the chart shows, already in the recipient's language."""

    title: str
    new_label: str
    resolved_label: str
    axis_label: str
    empty_label: str
    rows: tuple[tuple[str, int, int], ...]  # label, new, resolved


@lru_cache(maxsize=1)
def _font_chars() -> frozenset[int]:
    """Code points the default font can draw (a missing glyph is a warning, and tests make those errors)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    return frozenset(FT2Font(path).get_charmap())


def _drawable(text: str) -> str:
    chars = _font_chars()
    cleaned = "".join(ch for ch in text if ord(ch) in chars or ch == " ").strip()
    return cleaned.replace("$", r"\$")  # no mathtext


def render_chart(data: ChartData) -> bytes:
    """A PNG of horizontal bars, new vs resolved per row; fixed 800×600 px. Blocking: run in a thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=CHART_SIZE_INCHES, dpi=CHART_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(_drawable(data.title))
    rows = list(data.rows) if any(new or resolved for _, new, resolved in data.rows) else []
    if not rows:
        axes.text(0.5, 0.5, _drawable(data.empty_label), ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    else:
        labels = [_drawable(truncate(label, CHART_LABEL_LIMIT)) for label, _, _ in rows]
        positions = list(range(len(rows)))
        height = 0.4
        new_bars = axes.barh(
            [p - height / 2 for p in positions],
            [r[1] for r in rows],
            height=height,
            label=_drawable(data.new_label),
            color="#d9822b",
        )
        resolved_bars = axes.barh(
            [p + height / 2 for p in positions],
            [r[2] for r in rows],
            height=height,
            label=_drawable(data.resolved_label),
            color="#2b8a3e",
        )
        axes.set_yticks(positions, labels, fontsize=8 if len(rows) > 12 else 9)
        axes.invert_yaxis()
        axes.set_xlabel(_drawable(data.axis_label))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="x", alpha=0.3)
        for bars, values in ((new_bars, [r[1] for r in rows]), (resolved_bars, [r[2] for r in rows])):
            axes.bar_label(bars, labels=[str(v) if v else "" for v in values], padding=2, fontsize=8)
        axes.margins(x=0.08)
        axes.legend(loc="best")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()
