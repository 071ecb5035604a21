"""What a desk action asks the handler to show and do: data only, no Telegram keyboard.

The desk decides *what* to show (which picker, with which options; which prompt), as the view models
of `bot/views/desk.py`, which builds the keyboards and texts of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.views.desk import CardButtons, Picker, Prompt


@dataclass(frozen=True, slots=True)
class Notice:
    """A resident to tell about a complaint."""

    complaint_id: int
    event: str  # taken | rerouted | resolved | rejected | merged
    comment: str | None = None
    original: int | None = None


@dataclass(slots=True)
class DeskResult:
    """What the handler should do after a desk action."""

    notice: str | None = None  # answer to the press
    alert: bool = False
    refresh: list[int] | None = None  # complaints whose cards to re-render
    picker: Picker | CardButtons | None = None  # a temporary keyboard for the pressed card
    prompt: Prompt | None = None  # a message to post in the department chat
    notices: list[Notice] | None = None
    retire_card: tuple[int, int, str] | None = None  # (chat, message, text): a card left behind by a reroute
