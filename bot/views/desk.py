"""What the desk shows on a card besides the card itself: its pickers and the resolution prompt.

The desk (`bot/services/desk.py`) decides which picker or prompt to show, as the view models below;
these build the keyboard and
text of it. Callback data is built by `bot/core/callbacks.py` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core import callbacks
from bot.core.callbacks import DeskAction
from bot.telegram import Button, Keyboard
from bot.views.cards import CardRenderer
from bot.views.i18n import t


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


# what picking an option of each picker does (the resolve picker has one fixed button instead)
_PICKED = {
    PickerKind.DEPARTMENT: DeskAction.TO_DEPARTMENT,
    PickerKind.CATEGORY: DeskAction.TO_CATEGORY,
    PickerKind.DUPLICATE: DeskAction.DUPLICATE_OF,
}
_ORIGINAL_TEXT_CHARS = 28  # of a possible original's text on its button, after its number


def picker_keyboard(picker: Picker | CardButtons, renderer: CardRenderer) -> Keyboard | None:
    """The keyboard the pressed card shows now (None: the card has no buttons in its status)."""
    if isinstance(picker, CardButtons):
        return renderer.keyboard(picker.number, picker.department_id, picker.status)
    lang, number = picker.language, picker.number
    if picker.kind is PickerKind.RESOLVE:
        buttons = [_button(t("button.no_comment", lang), DeskAction.RESOLVE_NO_COMMENT, number)]
    else:
        action = _PICKED[picker.kind]
        buttons = [
            _button(_label(picker.kind, target, label), action, number, target)
            for target, label in picker.options
        ]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((_button(t("button.back", lang), DeskAction.BACK, number),))
    return tuple(rows)


def prompt_text(prompt: Prompt) -> str:
    """The message asking for the resolution's comment (plain text)."""
    return t("desk.resolve_prompt", prompt.language, number=prompt.number)


def _label(kind: PickerKind, target: str | int, label: str) -> str:
    if kind is PickerKind.DUPLICATE:
        return f"№{target}: {label[:_ORIGINAL_TEXT_CHARS]}"
    return label


def _button(text: str, action: DeskAction, number: int, target: str | int | None = None) -> Button:
    return Button(text, callback_data=callbacks.pack(callbacks.DeskButton(action, number, target)))
