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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from bot.config import Config
from bot.core.text import split_message, truncate
from bot.telegram import CAPTION_LIMIT, MESSAGE_LIMIT
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
from storage.uow import UnitOfWork

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


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


class DigestBuilder:
    """Builds digests from the complaints table; recipients come from the config."""

    def __init__(self, config: Config, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._config = config
        self._uow_factory = uow_factory
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

    # ------------------------------------------------------------------------------------- statistics

    async def _collect(self, department_id: str | None, start: datetime, end: datetime) -> _Stats:
        length = end - start
        windows = max(1, min(SPIKE_WINDOWS, int(SPIKE_HISTORY / length)))
        stats = _Stats()
        async with self._uow_factory() as uow:
            first = await uow.digests.first_created_at()
            # new complaints per window: -1 is the period itself, 0 the previous period, 1.. the earlier
            # windows used for spikes
            rows = await uow.digests.new_by_window(
                start=start,
                end=end,
                since=start - windows * length,
                window=length,
                department_id=department_id,
            )
            category_history: dict[str, list[int]] = defaultdict(lambda: [0] * windows)
            district_history: dict[str, list[int]] = defaultdict(lambda: [0] * windows)
            category_now: dict[str, int] = defaultdict(int)
            district_now: dict[str, int] = defaultdict(int)
            places: dict[tuple[str, str], int] = defaultdict(int)
            for department, category, district, window, count in rows:
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
            resolved = await uow.digests.resolved_counts(
                previous_start=start - length, start=start, end=end, department_id=department_id
            )
            for department, category, now_count, prev_count in resolved:
                stats.resolved_prev += prev_count
                if now_count:
                    stats.resolved += now_count
                    self._slot(stats.by_department, department, 4)[2] += now_count
                    self._slot(stats.by_category, category, 3)[2] += now_count

            # overdue at the end of the period and at its start
            for department, now_count, prev_count in await uow.digests.overdue_counts(
                start=start, end=end, department_id=department_id
            ):
                stats.overdue += now_count
                stats.overdue_prev += prev_count
                if now_count:
                    self._slot(stats.by_department, department, 4)[3] += now_count

            top = self._config.digests.top_problems
            # open complaints other residents have repeated most
            stats.repeated = [
                _Item(r.id, r.category, r.district, r.status, _Link(*r.link), r.duplicate_count)
                for r in await uow.digests.most_repeated(limit=top, department_id=department_id)
            ]

            # the category + district pairs with most complaints, with their latest linkable message
            repeated_places = [(key, n) for key, n in places.items() if n >= 2]
            ranked = sorted(repeated_places, key=lambda item: (-item[1], item[0]))[:top]
            latest: dict[tuple[str, str], _Link] = {}
            if ranked:
                wanted = {key for key, _ in ranked}
                newest = await uow.digests.latest_linkable(start=start, end=end, department_id=department_id)
                by_id = {number: pair for pair, number in newest.items() if pair in wanted}
                if by_id:
                    for number, link in (await uow.digests.links(list(by_id))).items():
                        latest[by_id[number]] = _Link(*link)
            stats.places = [(cat, dist, count, latest.get((cat, dist))) for (cat, dist), count in ranked]

            # urgent complaints of the period, open ones first
            stats.urgent_total = await uow.digests.urgent_count(
                start=start, end=end, department_id=department_id
            )
            if stats.urgent_total:
                stats.urgent = [
                    _Item(r.id, r.category, r.district, r.status, _Link(*r.link))
                    for r in await uow.digests.urgent(
                        start=start, end=end, limit=URGENT_LIMIT, department_id=department_id
                    )
                ]

            # median time to resolution per department
            stats.medians = await uow.digests.resolution_medians(
                start=start, end=end, department_id=department_id
            )
        return stats

    @staticmethod
    def _slot(table: dict[str, list[int]], key: str, size: int) -> list[int]:
        if key not in table:
            table[key] = [0] * size
        return table[key]
