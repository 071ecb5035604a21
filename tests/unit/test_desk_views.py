"""The desk's pickers and prompt: the use case says what to show, the view builds the keyboard."""

from __future__ import annotations

from bot.config import Config
from bot.core import callbacks
from bot.core.callbacks import DeskAction, DeskButton
from bot.telegram import Keyboard
from bot.views.cards import CardRenderer
from bot.views.desk import CardButtons, Picker, PickerKind, Prompt, picker_keyboard, prompt_text
from bot.views.i18n import t


def _pressed(keyboard: Keyboard | None) -> list[list[tuple[str, DeskButton]]]:
    assert keyboard is not None
    rows = []
    for row in keyboard:
        parsed = []
        for button in row:
            assert button.callback_data is not None
            data = callbacks.parse(button.callback_data)
            assert isinstance(data, DeskButton)
            parsed.append((button.text, data))
        rows.append(parsed)
    return rows


def test_resolve_picker_offers_no_comment_then_back(example_config: Config) -> None:
    picker = Picker(PickerKind.RESOLVE, 7, "en")
    assert _pressed(picker_keyboard(picker, CardRenderer(example_config))) == [
        [(t("button.no_comment", "en"), DeskButton(DeskAction.RESOLVE_NO_COMMENT, 7))],
        [(t("button.back", "en"), DeskButton(DeskAction.BACK, 7))],
    ]


def test_option_pickers_two_to_a_row_with_their_targets(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    options: tuple[tuple[str | int, str], ...] = (("roads", "Roads"), ("water", "Water"), ("parks", "Parks"))
    rows = _pressed(picker_keyboard(Picker(PickerKind.DEPARTMENT, 3, "ru", options), renderer))
    assert [[button for _, button in row] for row in rows] == [
        [DeskButton(DeskAction.TO_DEPARTMENT, 3, "roads"), DeskButton(DeskAction.TO_DEPARTMENT, 3, "water")],
        [DeskButton(DeskAction.TO_DEPARTMENT, 3, "parks")],
        [DeskButton(DeskAction.BACK, 3)],
    ]
    assert [text for text, _ in rows[0]] == ["Roads", "Water"]
    categories = _pressed(
        picker_keyboard(Picker(PickerKind.CATEGORY, 3, "ru", (("pits", "Pits"),)), renderer)
    )
    assert categories[0] == [("Pits", DeskButton(DeskAction.TO_CATEGORY, 3, "pits"))]


def test_duplicate_picker_shows_number_and_a_piece_of_text(example_config: Config) -> None:
    picker = Picker(PickerKind.DUPLICATE, 5, "kk", ((12, "x" * 40),))
    rows = _pressed(picker_keyboard(picker, CardRenderer(example_config)))
    assert rows[0] == [(f"№12: {'x' * 28}", DeskButton(DeskAction.DUPLICATE_OF, 5, 12))]
    assert rows[-1] == [(t("button.back", "kk"), DeskButton(DeskAction.BACK, 5))]


def test_card_buttons_are_the_cards_own(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    department = example_config.departments[0].id
    back = CardButtons(9, department, "in_progress")
    assert picker_keyboard(back, renderer) == renderer.keyboard(9, department, "in_progress")
    assert picker_keyboard(CardButtons(9, department, "resolved"), renderer) is None


def test_prompt_text() -> None:
    assert prompt_text(Prompt(4, 31, "en")) == t("desk.resolve_prompt", "en", number=31)
