"""The classifier port: plain Python, no Telegram library, CPU-bound and synchronous.

The pipeline calls it through `asyncio.to_thread`, so an implementation may take milliseconds
without blocking the event loop; it must be safe to call from several threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What the classifier may use besides the text."""

    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Alternative:
    """The runner-up category when the classifier is torn between two."""

    category: str
    department: str
    confidence: float  # its share, on the same scale as the main category's confidence

    def as_dict(self) -> dict[str, object]:
        """The JSON shape inside `shagym classify`'s "alternative"."""
        return {
            "category": self.category,
            "department": self.department,
            "confidence": round(self.confidence, 4),
        }


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's verdict on one message."""

    complaint: bool
    kind: str  # complaint | question | suggestion | gratitude | other
    category: str
    department: str
    urgent: bool
    district: str | None
    language: str  # ru | kk | en | mixed | unknown
    confidence: float  # of the category (complaints) or of the non-complaint verdict
    needs_triage: bool = False  # low confidence: a human should check the routing
    # a mixed text (two problems): the second-best category, so staff see it before rerouting
    alternative: Alternative | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON shape `shagym classify` prints."""
        return {
            "complaint": self.complaint,
            "kind": self.kind,
            "category": self.category,
            "department": self.department,
            "urgent": self.urgent,
            "district": self.district,
            "language": self.language,
            "confidence": round(self.confidence, 4),
            "alternative": self.alternative.as_dict() if self.alternative is not None else None,
        }


class Classifier(Protocol):
    """Decides whether a message is a complaint and where it goes."""

    def classify(self, text: str, context: MessageContext | None = None) -> Classification:
        """Classify one message; never raises on odd text (empty, emoji-only, very long)."""
        ...


@runtime_checkable
class BatchClassifier(Classifier, Protocol):
    """A classifier with its own batch method (one model pass over many texts)."""

    def classify_many(self, items: Sequence[tuple[str, MessageContext | None]]) -> list[Classification]:
        """Classify several messages, in order."""
        ...


def classify_many(
    classifier: Classifier, items: Sequence[tuple[str, MessageContext | None]]
) -> list[Classification]:
    """Classify several messages in one call: the classifier's batch method when it has one, else in turn."""
    if isinstance(classifier, BatchClassifier):
        return list(classifier.classify_many(items))
    return [classifier.classify(text, context) for text, context in items]
