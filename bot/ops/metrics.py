"""Prometheus metrics of one bot, read at scrape time: no metric calls sprinkled through the pipeline.

They come from the stats objects the bot keeps anyway (ingress, inbox processor, delivery, classifier,
notices; latencies go into their `LatencyHistogram`s as the work happens) and from the database and
department queues, read by `refresh()` before each scrape. Nothing here is global or created at import.
No metric shows personal data or secrets: counts, department ids and error class names only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from bot.config import Config
from bot.core.domain import ComplaintStatus, InboxStatus
from bot.core.events import ALLOWED_UPDATES
from bot.ingress.receiver import IngressStats
from bot.ops.latency import LatencyHistogram
from bot.workers.delivery_stats import DeliveryStats
from storage.queues import DepartmentQueue, QueueStats
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

DELIVERY_FAILURE_KINDS: tuple[str, ...] = ("rate_limited", "forbidden", "transient", "refused")
DROP_REASONS: tuple[str, ...] = ("untagged", "other")


class ProcessorStats(Protocol):
    """What the inbox processor exposes: rows handled and the time each took."""

    processed: int
    processing_seconds: LatencyHistogram


class NoticeStats(Protocol):
    """What the notice sender exposes: notices sent and failed attempts."""

    sent: int
    failures: int


class Lease(Protocol):
    """A leadership lease among several instances (bot/workers/leases.py)."""

    name: str
    is_leader: bool


@dataclass(frozen=True, slots=True)
class MetricSources:
    """The live stats objects of one bot, read at every scrape."""

    ingress: IngressStats
    processor: ProcessorStats
    delivery: DeliveryStats
    classify_seconds: LatencyHistogram
    leases: Sequence[Lease] = ()
    notices: NoticeStats | None = None


@dataclass(slots=True)
class _Snapshot:
    """What the last refresh read from the database and the queues (None: could not be read)."""

    complaints: dict[tuple[str, str], int] | None = None
    inbox: dict[str, int] | None = None
    notices: dict[str, int] | None = None
    counts_read_at: float | None = None
    queues: dict[str, QueueStats] | None = None
    database_up: bool = False
    queue_up: bool = False
    errors: dict[str, str] = field(default_factory=dict)


def failure_reason(exc: BaseException) -> str:
    """A short, safe description of why a check failed: never the message (it may hold a URL)."""
    return "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__


def _histogram(name: str, documentation: str, histogram: LatencyHistogram) -> HistogramMetricFamily:
    buckets = [
        ("+Inf" if math.isinf(bound) else repr(bound), float(count))
        for bound, count in histogram.cumulative()
    ]
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=histogram.sum)


class ShagymCollector:
    """A Prometheus collector over one bot's stats; `refresh()` reads the database and queues first."""

    def __init__(
        self,
        config: Config,
        sources: MetricSources,
        uow_factory: Callable[[], UnitOfWork],
        queue: DepartmentQueue,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._sources = sources
        self._uow_factory = uow_factory
        self._queue = queue
        self._clock = clock
        self._snapshot = _Snapshot()
        self._started_at = time.time()
        try:
            version = metadata.version("shagym")
        except metadata.PackageNotFoundError:
            version = "unknown"
        self._info = {
            "version": version,
            "framework": config.telegram.framework,
            "mode": config.telegram.mode,
            "queue": "redis" if config.storage.redis_url else "sql",
        }

    async def refresh(self) -> None:
        """Read complaint and inbox counts (cached for `counts_cache_seconds`) and queue stats."""
        await asyncio.gather(self._refresh_counts(), self._refresh_queues())

    async def _refresh_counts(self) -> None:
        snapshot = self._snapshot
        read_at = snapshot.counts_read_at
        cache = self._config.observability.counts_cache_seconds
        if read_at is not None and snapshot.database_up and self._clock() - read_at < cache:
            return
        try:
            complaints, inbox, notices = await asyncio.wait_for(
                self._read_counts(), self._config.observability.check_timeout_seconds
            )
        except Exception as exc:  # any failure reads as "database down" on the metrics, never a 500
            snapshot.complaints, snapshot.inbox, snapshot.database_up = None, None, False
            snapshot.notices = None
            snapshot.errors["database"] = failure_reason(exc)
            log.warning("metrics: database not readable: %s", failure_reason(exc))
            return
        snapshot.complaints, snapshot.inbox, snapshot.database_up = complaints, inbox, True
        snapshot.notices = notices
        snapshot.counts_read_at = self._clock()
        snapshot.errors.pop("database", None)

    async def _read_counts(self) -> tuple[dict[tuple[str, str], int], dict[str, int], dict[str, int]]:
        async with self._uow_factory() as uow:
            complaints = await uow.complaints.count_by_department_and_status()
            inbox = await uow.inbox.counts()
            notices = await uow.notices.counts()
        return complaints, inbox, notices

    async def _refresh_queues(self) -> None:
        snapshot = self._snapshot
        departments = [department.id for department in self._config.departments]
        try:
            stats = await asyncio.wait_for(
                asyncio.gather(*(self._queue.stats(department) for department in departments)),
                self._config.observability.check_timeout_seconds,
            )
        except Exception as exc:
            snapshot.queues, snapshot.queue_up = None, False
            snapshot.errors["queue"] = failure_reason(exc)
            log.warning("metrics: department queues not readable: %s", failure_reason(exc))
            return
        snapshot.queues = dict(zip(departments, stats, strict=True))
        snapshot.queue_up = True
        snapshot.errors.pop("queue", None)

    def collect(self) -> Iterator[Metric]:
        """Every Shagym metric, from the live stats and the last refresh."""
        yield from self._info_metrics()
        yield from self._ingress_metrics()
        yield from self._inbox_metrics()
        yield from self._complaint_metrics()
        yield from self._queue_metrics()
        yield from self._delivery_metrics()
        yield from self._notice_metrics()
        yield _histogram(
            "shagym_classification_seconds",
            "Time to classify one message, including the wait for a worker thread.",
            self._sources.classify_seconds,
        )

    def _info_metrics(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "shagym_info", "Version and set-up of this bot (always 1).", labels=list(self._info)
        )
        info.add_metric(list(self._info.values()), 1)
        yield info
        yield GaugeMetricFamily(
            "shagym_start_time_seconds", "When this bot started, in Unix time.", value=self._started_at
        )
        yield GaugeMetricFamily(
            "shagym_database_up",
            "1 when the last scrape could read the database.",
            value=int(self._snapshot.database_up),
        )
        yield GaugeMetricFamily(
            "shagym_queue_up",
            "1 when the last scrape could read the department queues.",
            value=int(self._snapshot.queue_up),
        )
        if self._sources.leases:
            leader = GaugeMetricFamily(
                "shagym_leader", "1 when this instance holds the lease for a role.", labels=["role"]
            )
            for lease in self._sources.leases:
                leader.add_metric([lease.name], int(lease.is_leader))
            yield leader

    def _ingress_metrics(self) -> Iterable[Metric]:
        stats = self._sources.ingress
        yield CounterMetricFamily(
            "shagym_updates_received", "Updates received from Telegram.", value=stats.received
        )
        kept = CounterMetricFamily(
            "shagym_updates_kept", "Updates the bot acts on, by update kind.", labels=["kind"]
        )
        for kind in sorted(set(ALLOWED_UPDATES) | set(stats.by_kind)):
            kept.add_metric([kind], stats.by_kind.get(kind, 0))
        yield kept
        yield CounterMetricFamily(
            "shagym_updates_stored",
            "Updates newly written to the inbox (a redelivered update is not counted again).",
            value=stats.stored,
        )
        dropped = CounterMetricFamily(
            "shagym_updates_dropped",
            "Updates dropped in memory and never stored: untagged chat messages, other kinds, refused.",
            labels=["reason"],
        )
        dropped.add_metric(["untagged"], stats.dropped_untagged)
        dropped.add_metric(["other"], stats.dropped_other)
        dropped.add_metric(["refused"], stats.refused)
        yield dropped
        yield CounterMetricFamily(
            "shagym_updates_malformed",
            "Updates that did not parse (kept for a human).",
            value=stats.malformed,
        )

    def _inbox_metrics(self) -> Iterable[Metric]:
        processor = self._sources.processor
        yield CounterMetricFamily(
            "shagym_inbox_processed", "Inbox rows handled by this instance.", value=processor.processed
        )
        yield _histogram(
            "shagym_inbox_processing_seconds",
            "Time to handle one inbox row (handlers, database, Telegram calls).",
            processor.processing_seconds,
        )
        counts = self._snapshot.inbox
        if counts is not None:
            rows = GaugeMetricFamily("shagym_inbox_rows", "Inbox rows by status.", labels=["status"])
            for status in sorted({s.value for s in InboxStatus} | set(counts)):
                rows.add_metric([status], counts.get(status, 0))
            yield rows

    def _notice_metrics(self) -> Iterable[Metric]:
        sender = self._sources.notices
        if sender is not None:
            yield CounterMetricFamily(
                "shagym_notices_sent", "Notices to residents sent by this instance.", value=sender.sent
            )
            yield CounterMetricFamily(
                "shagym_notices_failures",
                "Failed attempts to send a notice (each is retried later).",
                value=sender.failures,
            )
        counts = self._snapshot.notices
        if counts is not None:
            owed = GaugeMetricFamily(
                "shagym_notices_owed",
                "Notices to residents not sent yet: pending (will be retried) or failed (given up).",
                labels=["status"],
            )
            for status in sorted({"pending", "failed"} | set(counts)):
                owed.add_metric([status], counts.get(status, 0))
            yield owed

    def _complaint_metrics(self) -> Iterable[Metric]:
        counts = self._snapshot.complaints
        if counts is None:
            return
        family = GaugeMetricFamily(
            "shagym_complaints", "Complaints by department and status.", labels=["department", "status"]
        )
        departments = {d.id for d in self._config.departments} | {d for d, _ in counts}
        statuses = {s.value for s in ComplaintStatus} | {s for _, s in counts}
        for department in sorted(departments):
            for status in sorted(statuses):
                family.add_metric([department, status], counts.get((department, status), 0))
        yield family

    def _queue_metrics(self) -> Iterable[Metric]:
        queues = self._snapshot.queues
        if queues is None:
            return
        depth = GaugeMetricFamily(
            "shagym_queue_depth",
            "Entries on a department queue not yet acked (ready, leased and delayed).",
            labels=["department"],
        )
        age = GaugeMetricFamily(
            "shagym_queue_oldest_age_seconds",
            "Age of the oldest un-acked entry of a department queue (0 when empty).",
            labels=["department"],
        )
        for department, stats in sorted(queues.items()):
            depth.add_metric([department], stats.depth)
            age.add_metric([department], stats.oldest_age)
        yield depth
        yield age

    def _delivery_metrics(self) -> Iterable[Metric]:
        stats = self._sources.delivery
        yield CounterMetricFamily(
            "shagym_cards_sent", "Cards posted in department chats.", value=stats.cards_sent
        )
        yield CounterMetricFamily(
            "shagym_cards_edited", "Card edits after staff actions.", value=stats.cards_edited
        )
        yield CounterMetricFamily(
            "shagym_cards_deferred",
            "Cards put back on the queue because the chat's rate budget was spent.",
            value=stats.deferred,
        )
        yield CounterMetricFamily(
            "shagym_combined_messages",
            "Combined messages posted in busy department chats.",
            value=stats.combined_messages,
        )
        yield CounterMetricFamily(
            "shagym_combined_complaints",
            "Complaints listed in combined messages instead of getting a card at once.",
            value=stats.combined_complaints,
        )
        yield _histogram(
            "shagym_card_latency_seconds",
            "Time from a complaint being stored to its card being posted.",
            stats.card_latency,
        )
        errors = CounterMetricFamily(
            "shagym_delivery_errors",
            "Failed card attempts by department and kind: rate_limited (429), forbidden (403 or chat not "
            "found: parked), transient (network, 5xx), refused (other Telegram errors).",
            labels=["department", "kind"],
        )
        departments = {d.id for d in self._config.departments} | {d for d, _ in stats.failures}
        kinds = set(DELIVERY_FAILURE_KINDS) | {k for _, k in stats.failures}
        for department in sorted(departments):
            for kind in sorted(kinds):
                errors.add_metric([department, kind], stats.failures.get((department, kind), 0))
        yield errors
