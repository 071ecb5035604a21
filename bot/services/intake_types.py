"""What intake takes from the private chat and what it answers for each message."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.events import User

__all__ = ["Draft", "IntakeResult"]


@dataclass(frozen=True, slots=True)
class Draft:
    """A complaint a resident composed in the private chat and chose to send."""

    user: User
    chat_id: int
    draft_id: int  # the id of the draft's first message: makes filing idempotent
    text: str
    photos: tuple[str, ...] = ()
    location: tuple[float, float] | None = None
    category: str | None = None  # the resident's choice, overriding the classifier


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What the pipeline did with one message."""

    outcome: str  # created | merged | updated | unchanged | not_complaint | untagged
    complaint_id: int | None = None
    department: str | None = None
    urgent: bool = False
    original: int | None = None  # merged: the complaint this one repeats
