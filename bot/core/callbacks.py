"""Inline button data: the one place that builds and parses `callback_data`.

Any client can send any data, so every press is parsed here into a typed button or refused. Buttons
carry ids (complaint numbers, department and category ids), never positions in config lists: a city
that reorders its departments and restarts must not have a button already on screen move a complaint
to the wrong place.

Format: ``<scope>:<action>:<number>[:<target>]``, at most 64 bytes (Telegram's limit); scopes ``d``
(department desk), ``r`` (resident private chat) and ``lang:<code>``. Version 2 (today's) differs from
version 1 only in the pickers' targets: a department or category id (which starts with a letter, or
``#`` for the hash of an id too long to fit) where version 1 had its position in the config's list
(digits), and the resident's category picker names the draft first. Version 1 buttons still on
screen keep working, except those positional ones: they answer "this button is out of date".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.core.text import parse_number

__all__ = [
    "CALLBACK_DATA_LIMIT",
    "DeskAction",
    "DeskButton",
    "LanguageButton",
    "OutdatedButton",
    "ResidentAction",
    "ResidentButton",
    "for_resident",
    "match_id",
    "pack",
    "parse",
]

CALLBACK_DATA_LIMIT = 64  # bytes; Telegram refuses longer callback_data

_DESK, _RESIDENT, _LANGUAGE = "d", "r", "lang"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # config identifiers (bot.config.Identifier)
_HASHED = re.compile(r"^#[0-9a-f]{10}$")  # an id too long for the data, by its hash
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


class DeskAction(StrEnum):
    """What a department desk button does."""

    TAKE = "take"
    RESOLVE = "resolve"
    RESOLVE_NO_COMMENT = "rnc"
    REJECT = "reject"
    REROUTE = "reroute"  # opens the department picker
    TO_DEPARTMENT = "to"  # picked a department (target: its id)
    TO_CATEGORY = "tc"  # picked a category (target: its id)
    DUPLICATE = "duplicate"  # opens the picker of possible originals
    DUPLICATE_OF = "dof"  # picked the original (target: its number)
    BACK = "back"
    OPEN = "open"  # the full card of a complaint listed in a combined message


class ResidentAction(StrEnum):
    """What a button in a resident's private chat does."""

    SEND = "send"
    CHANGE_CATEGORY = "cat"  # opens the category picker
    SET_CATEGORY = "set"  # picked a category (target: its id)
    CANCEL = "cancel"
    FIXED = "fix"  # the resident answers whether a resolved complaint is fixed (target: "y" or "n")


_DESK_TARGETS: dict[str, str] = {
    DeskAction.TO_DEPARTMENT: "id",
    DeskAction.TO_CATEGORY: "id",
    DeskAction.DUPLICATE_OF: "number",
}
_RESIDENT_TARGETS: dict[str, str] = {ResidentAction.SET_CATEGORY: "id", ResidentAction.FIXED: "yes_no"}


@dataclass(frozen=True, slots=True)
class DeskButton:
    """A card button: `action` on complaint `number`; `target` is a department or category id token
    (see `match_id`) or, for DUPLICATE_OF, the original's number."""

    action: DeskAction
    number: int
    target: str | int | None = None


@dataclass(frozen=True, slots=True)
class ResidentButton:
    """A private-chat button: `action` on draft (or, for FIXED, complaint) `number`."""

    action: ResidentAction
    number: int
    target: str | None = None


@dataclass(frozen=True, slots=True)
class LanguageButton:
    """The resident picked a language."""

    code: str


@dataclass(frozen=True, slots=True)
class OutdatedButton:
    """A well-formed button of an older format whose meaning may have changed: answered, never acted on."""

    scope: str  # "desk" or "resident": who answers it


Button = DeskButton | ResidentButton | LanguageButton | OutdatedButton


def pack(button: DeskButton | ResidentButton | LanguageButton) -> str:
    """The callback_data of a button (version 2), within Telegram's 64 bytes."""
    if isinstance(button, LanguageButton):
        return f"{_LANGUAGE}:{button.code}"
    scope = _DESK if isinstance(button, DeskButton) else _RESIDENT
    parts = [scope, button.action.value, str(button.number)]
    if button.target is not None:
        parts.append(str(button.target))
    data = ":".join(parts)
    if len(data.encode()) > CALLBACK_DATA_LIMIT and isinstance(button.target, str):
        parts[-1] = _hash_id(button.target)
        data = ":".join(parts)
    if len(data.encode()) > CALLBACK_DATA_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_DATA_LIMIT} bytes: {data!r}")
    return data


def for_resident(data: str) -> bool:
    """True for the data of a resident's private-chat button (the rest, forged data too, is the desk's)."""
    return data.split(":", 1)[0] in (_RESIDENT, _LANGUAGE)


def parse(data: str) -> Button | None:
    """The button `data` names, or None when it is forged, malformed or unknown."""
    if len(data.encode()) > CALLBACK_DATA_LIMIT:
        return None
    parts = data.split(":")
    if parts[0] == _LANGUAGE:
        return LanguageButton(parts[1]) if len(parts) == 2 and _LANGUAGE_CODE.match(parts[1]) else None
    if parts[0] == _DESK:
        return _parse_desk(parts)
    if parts[0] == _RESIDENT:
        return _parse_resident(parts)
    return None


def _parse_desk(parts: list[str]) -> DeskButton | OutdatedButton | None:
    parsed = _parse_scoped(parts, DeskAction, _DESK_TARGETS, "desk")
    if parsed is None or isinstance(parsed, OutdatedButton):
        return parsed
    action, number, target = parsed
    return DeskButton(DeskAction(action), number, target)


def _parse_resident(parts: list[str]) -> ResidentButton | OutdatedButton | None:
    parsed = _parse_scoped(parts, ResidentAction, _RESIDENT_TARGETS, "resident")
    if parsed is None or isinstance(parsed, OutdatedButton):
        return parsed
    action, number, target = parsed
    return ResidentButton(ResidentAction(action), number, None if target is None else str(target))


def _parse_scoped(
    parts: list[str], actions: type[StrEnum], targets: Mapping[str, str], scope: str
) -> tuple[str, int, str | int | None] | OutdatedButton | None:
    """(action, number, target) of ``<scope>:<action>:<number>[:<target>]``, checked against the
    kind of target each action takes (none, a number, an id token, y/n)."""
    if not 3 <= len(parts) <= 4:
        return None
    try:
        action = actions(parts[1]).value
    except ValueError:
        return None
    number = parse_number(parts[2])
    if number is None:
        return None
    kind = targets.get(action)
    if kind is None or len(parts) == 3:
        return (action, number, None) if kind is None and len(parts) == 3 else None
    target = parts[3]
    if kind == "number":
        original = parse_number(target)
        return (action, number, original) if original is not None else None
    if kind == "yes_no":
        return (action, number, target) if target in ("y", "n") else None
    if parse_number(target) is not None:
        return OutdatedButton(scope)  # version 1: a position in the config's list
    return (action, number, target) if _is_id_token(target) else None


def _is_id_token(token: str) -> bool:
    return bool(_ID.match(token) or _HASHED.match(token))


def _hash_id(identifier: str) -> str:
    return "#" + hashlib.blake2b(identifier.encode(), digest_size=5).hexdigest()


def match_id(token: str, identifiers: Iterable[str]) -> str | None:
    """The identifier among `identifiers` a button's id token names (itself, or its hash), else None."""
    for identifier in identifiers:
        if token == identifier or token == _hash_id(identifier):
            return identifier
    return None
