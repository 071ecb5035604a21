"""What a desk action asks the handler to show and do: data only, no Telegram keyboard.

The desk decides *what* to show (which picker, with which options; which prompt); `bot/views/desk.py`
builds the keyboards and texts of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Notice:
    """A resident to tell about a complaint."""

    complaint_id: int
    event: str  # taken | rerouted | resolved | rejected | merged
    comment: str | None = None
    original: int | None = None


class PickerKind(StrEnum):
    """Which temporary keyboard the pressed card shows in place of its buttons."""

    RESOLVE = "resolve"  # resolve without a comment (the comment is a reply to the prompt)
    DEPARTMENT = "department"  # where to reroute the complaint
    CATEGORY = "category"  # which of the chosen department's categories
    DUPLICATE = "duplicate"  # which open complaint of the department is the original


@dataclass(frozen=True, slots=True)
class Picker:
    """A choice for complaint `number`, in `language`; each option is (target id, label), and a
    "back" button always follows them."""

    kind: PickerKind
    number: int
    language: str
    options: tuple[tuple[str | int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CardButtons:
    """The card's own desk buttons again (back from a picker), as they are for `status`."""

    number: int
    department_id: str
    status: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """Ask, in the department chat, for the comment of resolution `pending_id` of complaint `number`."""

    pending_id: int  # the pending resolution the prompt asks about (see `DeskActions.prompt_sent`)
    number: int
    language: str


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
