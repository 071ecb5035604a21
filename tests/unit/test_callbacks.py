"""Callback data: one format, built and parsed in one module, forged data refused."""

from __future__ import annotations

import pytest

from bot.core.callbacks import (
    CALLBACK_DATA_LIMIT,
    DeskAction,
    DeskButton,
    LanguageButton,
    OutdatedButton,
    ResidentAction,
    ResidentButton,
    for_resident,
    match_id,
    pack,
    parse,
)


@pytest.mark.parametrize(
    "button",
    [
        DeskButton(DeskAction.TAKE, 1),
        DeskButton(DeskAction.RESOLVE, 9_223_372_036_854_775_807),
        DeskButton(DeskAction.RESOLVE_NO_COMMENT, 7),
        DeskButton(DeskAction.REJECT, 7),
        DeskButton(DeskAction.REROUTE, 7),
        DeskButton(DeskAction.DUPLICATE, 7),
        DeskButton(DeskAction.BACK, 7),
        DeskButton(DeskAction.OPEN, 7),
        DeskButton(DeskAction.TO_DEPARTMENT, 7, "transport_roads"),
        DeskButton(DeskAction.TO_CATEGORY, 7, "roads"),
        DeskButton(DeskAction.DUPLICATE_OF, 7, 5),
        ResidentButton(ResidentAction.SEND, 3),
        ResidentButton(ResidentAction.CHANGE_CATEGORY, 3),
        ResidentButton(ResidentAction.CANCEL, 3),
        ResidentButton(ResidentAction.SET_CATEGORY, 3, "public_transport"),
        ResidentButton(ResidentAction.FIXED, 12, "y"),
        ResidentButton(ResidentAction.FIXED, 12, "n"),
        LanguageButton("kk"),
    ],
)
def test_every_button_survives_the_round_trip(button: DeskButton | ResidentButton | LanguageButton) -> None:
    data = pack(button)
    assert len(data.encode()) <= CALLBACK_DATA_LIMIT
    assert parse(data) == button


@pytest.mark.parametrize(
    ("data", "button"),
    [
        # version 1 buttons without a position are read exactly as they were written
        ("d:take:5", DeskButton(DeskAction.TAKE, 5)),
        ("d:open:5", DeskButton(DeskAction.OPEN, 5)),
        ("d:dof:5:3", DeskButton(DeskAction.DUPLICATE_OF, 5, 3)),
        ("r:send:11", ResidentButton(ResidentAction.SEND, 11)),
        ("r:fix:8:n", ResidentButton(ResidentAction.FIXED, 8, "n")),
        ("lang:en", LanguageButton("en")),
        # version 1 pickers carried positions in the config's lists
        ("d:to:5:0", OutdatedButton("desk")),
        ("d:tc:5:12", OutdatedButton("desk")),
        ("r:set:2:11", OutdatedButton("resident")),
    ],
)
def test_version_1_data_keeps_working_or_is_out_of_date(data: str, button: object) -> None:
    assert parse(data) == button


@pytest.mark.parametrize(
    "data",
    [
        "",
        "d",
        "d:take",
        "d:take:",
        "d:take:x",
        "d:take:-5",
        "d:take:²",
        "d:take:٣",
        "d:take:99999999999999999999",
        "d:take:5:6",
        "d:fly:5",
        "d:to:5",
        "d:to:5:Roads",
        "d:to:5:roads:extra",
        "d:to:5:#xyz",
        "d:dof:5:x",
        "r:fix:5:maybe",
        "r:set:5:",
        "r:send",
        "r:send:5:6",
        "lang:",
        "lang:русский",
        "x:take:5",
        "d:to:5:" + "a" * 80,
    ],
)
def test_forged_or_malformed_data_is_refused(data: str) -> None:
    assert parse(data) is None


def test_an_id_too_long_for_the_data_travels_as_its_hash() -> None:
    long_id = "department_with_a_very_long_identifier_written_by_a_city_" + "x" * 6
    data = pack(DeskButton(DeskAction.TO_DEPARTMENT, 9_223_372_036_854_775_807, long_id))
    assert len(data.encode()) <= CALLBACK_DATA_LIMIT
    button = parse(data)
    assert isinstance(button, DeskButton) and isinstance(button.target, str)
    assert button.target != long_id
    assert match_id(button.target, ["roads", long_id]) == long_id
    assert match_id(button.target, ["roads"]) is None
    assert match_id("roads", ["utilities", "roads"]) == "roads"


def test_the_scope_decides_who_answers() -> None:
    assert for_resident("r:send:1") and for_resident("lang:ru") and for_resident("r:garbage")
    assert not for_resident("d:take:1") and not for_resident("") and not for_resident("rr:send:1")
