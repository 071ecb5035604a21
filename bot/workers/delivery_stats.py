"""Counters and latency of card delivery, kept as the work happens and read by the metrics endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.ops.latency import CARD_BUCKETS, LatencyHistogram


@dataclass(slots=True)
class DeliveryStats:
    """Counters for monitoring and benchmarks."""

    cards_sent: int = 0
    cards_edited: int = 0
    deferred: int = 0
    parked: int = 0
    errors: int = 0
    # seconds from a complaint being stored to its card being posted (cards of their own only, as
    # `cards_sent` counts them: a combined message is no card)
    card_latency: LatencyHistogram = field(default_factory=lambda: LatencyHistogram(CARD_BUCKETS))
    combined_messages: int = 0  # messages that listed several complaints of a busy department
    combined_complaints: int = 0  # complaints delivered in them
    # (department, kind) -> failed attempts; kind: rate_limited, forbidden, transient, refused
    failures: dict[tuple[str, str], int] = field(default_factory=dict)

    def count_failure(self, department: str, kind: str) -> None:
        """Count one failed card attempt for the metrics endpoint."""
        self.failures[(department, kind)] = self.failures.get((department, kind), 0) + 1
