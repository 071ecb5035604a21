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
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.lifecycle import UNRESOLVED, statuses
from bot.core.text import split_message, truncate
from bot.views.cards import CAPTION_LIMIT, MESSAGE_LIMIT
from bot.views.digest_chart import ChartData, render_chart
from bot.views.digest_text import (
    DIGEST_TEXTS,
    DigestRecipient,
    DigestRenderer,
    Spike,
    _Item,
    _Link,
    _Stats,
)
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

OPEN_STATUSES = statuses(UNRESOLVED)
_REJECTED = ComplaintStatus.REJECTED.value
_DUPLICATE = ComplaintStatus.DUPLICATE.value
_RESOLVED = ComplaintStatus.RESOLVED.value


@dataclass(frozen=True)
class Digest:
    """A rendered digest: HTML message parts (each ≤ 4096 UTF-16 units), a PNG chart and its caption."""

    parts: list[str]
    chart_png: bytes
    caption: str  # HTML-escaped text, ≤ 1024 UTF-16 units


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
        self._renderer = DigestRenderer(config)

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
        text = self._renderer.render(stats, recipient, start, end)
        chart = await asyncio.to_thread(render_chart, self._renderer.chart_data(stats, recipient))
        return Digest(
            parts=split_message(text, MESSAGE_LIMIT),
            chart_png=chart,
            caption=truncate(self._renderer.caption(stats, recipient, start, end), CAPTION_LIMIT),
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
