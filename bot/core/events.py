"""Normalized events: what handlers see of a Telegram update, whichever framework received it.

The parser reads the Bot API wire format (the JSON Telegram sends), which is also what the inbox stores,
so an update is parsed the same way when it arrives and when it is replayed after a crash.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from bot.core.text import is_int64, storable_text

log = logging.getLogger(__name__)

# Update kinds the bot acts on; `allowed_updates` must list them explicitly.
MESSAGE_KINDS: tuple[str, ...] = ("message", "edited_message", "channel_post", "edited_channel_post")
MEMBERSHIP_KIND = "my_chat_member"
ALLOWED_UPDATES: tuple[str, ...] = (*MESSAGE_KINDS, "callback_query", MEMBERSHIP_KIND)


class MalformedUpdate(ValueError):
    """An update that does not have the shape the Bot API documents."""


@dataclass(frozen=True, slots=True)
class Chat:
    """The chat a message was posted in."""

    id: int
    type: str  # private | group | supergroup | channel
    title: str | None = None
    username: str | None = None

    @property
    def is_private(self) -> bool:
        """True for a one-to-one chat with the bot."""
        return self.type == "private"


@dataclass(frozen=True, slots=True)
class User:
    """A Telegram user (or the chat itself, for anonymous admins and channel posts)."""

    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        """First and last name as Telegram shows them."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True, slots=True)
class Entity:
    """A message entity; offset and length count UTF-16 code units, as Telegram sends them."""

    type: str
    offset: int
    length: int
    user_id: int | None = None  # text_mention only


@dataclass(frozen=True, slots=True)
class Location:
    """A shared location."""

    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact shared through Telegram's contact button."""

    phone_number: str
    user_id: int | None = None
    first_name: str = ""


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """The message this one replies to."""

    message_id: int
    from_user_id: int | None = None
    from_username: str | None = None


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A message, edited message or channel post."""

    update_id: int
    kind: str  # one of MESSAGE_KINDS
    chat: Chat
    message_id: int
    date: int
    sender: User | None
    text: str = ""
    entities: tuple[Entity, ...] = ()
    photos: tuple[str, ...] = ()  # file_id of the largest size
    location: Location | None = None
    contact: Contact | None = None
    reply_to: ReplyTo | None = None
    media_group_id: str | None = None
    content_type: str = "text"  # text | photo | location | contact | sticker | voice | document | other
    thread_id: int | None = None

    @property
    def is_edit(self) -> bool:
        """True for edited messages and edited channel posts."""
        return self.kind.startswith("edited_")

    @property
    def is_channel_post(self) -> bool:
        """True for posts in a channel."""
        return self.kind.endswith("channel_post")


@dataclass(frozen=True, slots=True)
class CallbackPress:
    """An inline button press; `data` is untrusted (any client can send any data)."""

    update_id: int
    callback_id: str
    sender: User
    data: str
    chat_id: int | None = None
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """The bot's own membership in a chat changed: added, made an admin, restricted, removed."""

    update_id: int
    chat: Chat | None  # None when the update's chat is not one the parser takes
    new_status: str | None  # member | administrator | restricted | left | kicked | ...
    old_status: str | None = None
    by: User | None = None  # who made the change


@dataclass(frozen=True, slots=True)
class UnsupportedUpdate:
    """An update kind the bot does not act on."""

    update_id: int
    kind: str
    raw_keys: tuple[str, ...] = field(default_factory=tuple)


Event = IncomingMessage | CallbackPress | MembershipChange | UnsupportedUpdate


def _fits(value: Any, kind: type | tuple[type, ...]) -> bool:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        return False
    # Telegram's ids fit in 64 bits; a larger integer would fail in the database, not in the parser
    return not isinstance(value, int) or isinstance(value, bool) or is_int64(value)


def _storable(value: Any) -> Any:
    return storable_text(value) if isinstance(value, str) else value


def _require(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(mapping, dict):
        raise MalformedUpdate(f"{where} is not an object")
    value = mapping.get(key)
    if not _fits(value, kind):
        raise MalformedUpdate(f"{where}.{key} is missing or has the wrong type")
    return _storable(value)


def _optional(mapping: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(mapping, dict):
        return None
    value = mapping.get(key)
    if value is None or not _fits(value, kind):
        return None
    return _storable(value)


def _number(value: Any) -> float | None:
    """A finite int or float (not a bool), as a float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# Telegram's own limits (names 64, titles 128, usernames 32 characters) with room to spare: a longer
# name or title is cut, a longer username or chat type cannot be real and is dropped or cut, so a forged
# update cannot overflow a column when the chat or the resident is stored.
_NAME_LIMIT = 64
_TITLE_LIMIT = 128
_USERNAME_LIMIT = 64
_TYPE_LIMIT = 16


def _clipped(mapping: Any, key: str, limit: int) -> str | None:
    value = _optional(mapping, key, str)
    return value[:limit] if value is not None else None


def _username(mapping: Any) -> str | None:
    value = _optional(mapping, "username", str)
    return value if value is not None and len(value) <= _USERNAME_LIMIT else None


def _user(raw: Any, where: str) -> User:
    return User(
        id=_require(raw, "id", int, where),
        is_bot=bool(raw.get("is_bot", False)),
        first_name=_clipped(raw, "first_name", _NAME_LIMIT) or "",
        last_name=_clipped(raw, "last_name", _NAME_LIMIT),
        username=_username(raw),
        language_code=_clipped(raw, "language_code", _TYPE_LIMIT),
    )


def parse_chat(raw: Any) -> Chat:
    """A chat object from the wire format; raise MalformedUpdate without an integer id and a type."""
    return Chat(
        id=_require(raw, "id", int, "chat"),
        type=_require(raw, "type", str, "chat")[:_TYPE_LIMIT],
        title=_clipped(raw, "title", _TITLE_LIMIT),
        username=_username(raw),
    )


def _entities(raw: Any) -> tuple[Entity, ...]:
    if not isinstance(raw, list):
        return ()
    entities = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        offset, length, kind = item.get("offset"), item.get("length"), item.get("type")
        if not (isinstance(offset, int) and isinstance(length, int) and isinstance(kind, str)):
            continue
        if offset < 0 or length <= 0:
            continue
        user = item.get("user")
        user_id = user.get("id") if isinstance(user, dict) and isinstance(user.get("id"), int) else None
        entities.append(Entity(type=kind, offset=offset, length=length, user_id=user_id))
    return tuple(entities)


def _area(size: dict[str, Any]) -> float:
    return (_number(size.get("width")) or 0.0) * (_number(size.get("height")) or 0.0)


# the keys that name a message's content, the first one present wins; all but the named count as "other"
_CONTENT = ("photo", "location", "contact", "sticker", "voice", "video_note", "video", "audio", "document")
_NAMED_CONTENT = frozenset({"photo", "location", "contact", "sticker", "voice", "document"})


def _content_type(raw: dict[str, Any]) -> str:
    for key in _CONTENT:
        if key in raw:
            return key if key in _NAMED_CONTENT else "other"
    if isinstance(raw.get("text"), str):
        return "text"
    return "other"


def _message(update_id: int, kind: str, raw: Any) -> IncomingMessage:
    chat = parse_chat(_require({"m": raw}, "m", dict, kind).get("chat"))
    message_id = _require(raw, "message_id", int, kind)
    sender_raw = raw.get("from") or raw.get("sender_chat")
    sender = None
    if isinstance(sender_raw, dict) and isinstance(sender_raw.get("id"), int):
        sender = _user(sender_raw, f"{kind}.from")
    text = _optional(raw, "text", str)
    entities = _entities(raw.get("entities"))
    if text is None:
        text = _optional(raw, "caption", str) or ""
        entities = _entities(raw.get("caption_entities"))
    photos: tuple[str, ...] = ()
    photo_sizes = raw.get("photo")
    if isinstance(photo_sizes, list) and photo_sizes:
        sizes = [p for p in photo_sizes if isinstance(p, dict) and isinstance(p.get("file_id"), str)]
        if sizes:
            largest = max(sizes, key=_area)
            photos = (_storable(largest["file_id"]),)
    location = None
    loc = raw.get("location")
    if isinstance(loc, dict):
        latitude, longitude = _number(loc.get("latitude")), _number(loc.get("longitude"))
        if latitude is not None and longitude is not None and abs(latitude) <= 90 and abs(longitude) <= 180:
            location = Location(latitude, longitude)
    contact = None
    con = raw.get("contact")
    if isinstance(con, dict) and isinstance(con.get("phone_number"), str):
        contact = Contact(
            phone_number=_storable(con["phone_number"]),
            user_id=_optional(con, "user_id", int),
            first_name=_clipped(con, "first_name", _NAME_LIMIT) or "",
        )
    reply_to = None
    reply = raw.get("reply_to_message")
    if isinstance(reply, dict) and isinstance(reply.get("message_id"), int):
        reply_from = reply.get("from") if isinstance(reply.get("from"), dict) else {}
        reply_to = ReplyTo(
            message_id=reply["message_id"],
            from_user_id=_optional(reply_from, "id", int),
            from_username=_username(reply_from),
        )
    return IncomingMessage(
        update_id=update_id,
        kind=kind,
        chat=chat,
        message_id=message_id,
        date=_optional(raw, "date", int) or 0,
        sender=sender,
        text=text,
        entities=entities,
        photos=photos,
        location=location,
        contact=contact,
        reply_to=reply_to,
        media_group_id=_optional(raw, "media_group_id", str),
        content_type=_content_type(raw),
        thread_id=_optional(raw, "message_thread_id", int),
    )


def _membership(update_id: int, raw: Any, keys: tuple[str, ...]) -> MembershipChange | UnsupportedUpdate:
    """A `my_chat_member` update, read leniently: only a log line and the chat's record depend on it."""
    change = raw[MEMBERSHIP_KIND]
    if not isinstance(change, dict):
        return UnsupportedUpdate(update_id=update_id, kind=MEMBERSHIP_KIND, raw_keys=keys)
    try:
        chat: Chat | None = parse_chat(change.get("chat"))
    except MalformedUpdate:
        chat = None
    by = change.get("from")
    return MembershipChange(
        update_id=update_id,
        chat=chat,
        new_status=_optional(change.get("new_chat_member"), "status", str),
        old_status=_optional(change.get("old_chat_member"), "status", str),
        by=_user(by, "my_chat_member.from") if _optional(by, "id", int) is not None else None,
    )


def parse_update(raw: Any) -> Event:
    """Turn a Bot API update (wire JSON) into a normalized event; raise MalformedUpdate on bad shape."""
    update_id = _require(raw, "update_id", int, "update")
    for kind in MESSAGE_KINDS:
        if kind in raw:
            return _message(update_id, kind, raw[kind])
    if "callback_query" in raw:
        query = raw["callback_query"]
        callback_id = _require(query, "id", str, "callback_query")
        sender = _user(query.get("from"), "callback_query.from")
        message = query.get("message") if isinstance(query.get("message"), dict) else {}
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        return CallbackPress(
            update_id=update_id,
            callback_id=callback_id,
            sender=sender,
            data=_optional(query, "data", str) or "",
            chat_id=_optional(chat, "id", int),
            message_id=_optional(message, "message_id", int),
        )
    keys = tuple(sorted(key for key in raw if key != "update_id"))
    kind = keys[0] if keys else "empty"  # Telegram sends one kind an update
    if kind == MEMBERSHIP_KIND:
        return _membership(update_id, raw, keys)
    return UnsupportedUpdate(update_id=update_id, kind=kind, raw_keys=keys)


def is_digest_command(text: str) -> bool:
    """True for "/digest" and "/digest@botname" at the start of a message."""
    head = text.lstrip().split(maxsplit=1)[0] if text.strip() else ""
    return head.split("@")[0].lower() == "/digest"
