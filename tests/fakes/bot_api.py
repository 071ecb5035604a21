"""A fake Telegram Bot API server for end-to-end tests.

The fake is an aiohttp server in the test's own event loop. It speaks the wire format that aiogram and
python-telegram-bot use against api.telegram.org (routes ``/bot<token>/<method>``, parameters as query
string, JSON, url-encoded or multipart form, replies ``{"ok": ..., "result" | "error_code", ...}``), keeps
the state a bot can observe (updates, messages per chat, files, commands, webhook) and records every call
so tests can assert on what the bot did::

    async with FakeBotAPI() as fake:
        # aiogram:  Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
        # ptb:      Bot(fake.token, base_url=fake.url + "/bot", base_file_url=fake.url + "/file/bot")
        fake.inject(fake.message_update(-1001234567890, "Pothole on Abai st. @roads_dept"))
        call = await fake.wait_for_call("sendMessage", chat_id=-1001234567890)

Everything is in memory and nothing sleeps unless a test asks for it (``delay_next``, long polling,
webhook retries), so the server keeps up with a few thousand requests a second.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import html
import itertools
import json
import math
import mimetypes
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
Predicate = Callable[[list["SentCall"]], Any]
MethodHandler = Callable[["ApiCall"], Awaitable[Any]]

DEFAULT_TOKEN = "123456:TEST-token"
BOT_USER_ID = 999000
BOT_USERNAME = "shagym_test_bot"
TEXT_LIMIT = 4096  # UTF-16 code units after entity parsing
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
SUPERGROUP_ID_BOUND = -1_000_000_000_000  # "-100" prefixed ids are supergroups and channels

UPDATE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# What Telegram sends while allowed_updates was never set (or set to []).
DEFAULT_UPDATE_KINDS = frozenset(UPDATE_KINDS) - {"chat_member", "message_reaction", "message_reaction_count"}
MESSAGE_UPDATE_KINDS = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_message",
        "edited_business_message",
    }
)
CONTENT_KEYS = (
    "text",
    "entities",
    "link_preview_options",
    "caption",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
    "photo",
    "document",
    "video",
    "audio",
    "voice",
    "animation",
    "sticker",
    "video_note",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)
MEDIA_KEYS = ("photo", "document", "video", "audio", "voice", "animation")
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
KICKED = "Forbidden: bot was kicked from the supergroup chat"
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
CONFLICT_POLLING = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# Parameters that Telegram types as integers, floats, booleans or JSON-serialized objects. Form bodies carry
# every value as a string; they are decoded once, so recorded params hold real values.
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "message_thread_id",
        "cache_time",
        "max_connections",
        "live_period",
        "heading",
        "proximity_alert_radius",
        "duration",
        "width",
        "height",
        "until_date",
        "sender_chat_id",
    }
)
_FLOAT_PARAMS = frozenset({"latitude", "longitude", "horizontal_accuracy"})
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "has_spoiler",
        "show_caption_above_media",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "supports_streaming",
        "allow_paid_broadcast",
        "only_if_banned",
        "revoke",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "media",
        "allowed_updates",
        "reply_parameters",
        "link_preview_options",
        "commands",
        "scope",
        "message_ids",
        "reaction",
        "permissions",
        "results",
        "options",
        "explanation_entities",
        "menu_button",
        "rights",
    }
)
_INT_RE = re.compile(r"-?\d+")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")


class BotAPIError(Exception):
    """An error reply. Raise it from a handler registered with ``FakeBotAPI.register_method``."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------------------------
# Text helpers: UTF-16 offsets, entities, HTML parse mode
# --------------------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of MessageEntity offsets and lengths."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def entity_text(text: str, entity: Mapping[str, Any]) -> str:
    """The part of ``text`` an entity covers (offset and length are in UTF-16 code units)."""
    encoded = text.encode("utf-16-le")
    start = int(entity["offset"]) * 2
    return encoded[start : start + int(entity["length"]) * 2].decode("utf-16-le")


def _regex_entities(text: str, pattern: re.Pattern[str], kind: str) -> list[JSON]:
    entities: list[JSON] = []
    position = 0  # Python index already converted
    offset = 0  # its UTF-16 offset
    for match in pattern.finditer(text):
        offset += utf16_len(text[position : match.start()])
        length = utf16_len(match.group())
        entities.append({"offset": offset, "length": length, "type": kind})
        offset += length
        position = match.end()
    return entities


_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_@])@[A-Za-z0-9_]{3,32}(?![A-Za-z0-9_])")
_COMMAND_RE = re.compile(r"(?<![^\s(])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


def mention_entities(text: str) -> list[JSON]:
    """``mention`` entities for every @username in ``text``, with UTF-16 offsets and lengths."""
    return _regex_entities(text, _MENTION_RE, "mention")


def bot_command_entities(text: str) -> list[JSON]:
    """``bot_command`` entities for every /command (optionally /command@bot) in ``text``."""
    return _regex_entities(text, _COMMAND_RE, "bot_command")


def auto_entities(text: str | None) -> list[JSON]:
    """The entities a Telegram client attaches by itself: bot commands and @mentions, sorted by offset."""
    if not text:
        return []
    entities = bot_command_entities(text) + mention_entities(text)
    entities.sort(key=lambda entity: entity["offset"])
    return entities


def text_mention_entity(text: str, fragment: str, user: Mapping[str, Any], occurrence: int = 0) -> JSON:
    """A ``text_mention`` entity (a user without a username) over the ``occurrence``-th ``fragment``."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.find(fragment, index + 1)
        if index < 0:
            raise ValueError(f"{fragment!r} does not occur {occurrence + 1} time(s) in {text!r}")
    return {
        "offset": utf16_len(text[:index]),
        "length": utf16_len(fragment),
        "type": "text_mention",
        "user": dict(user),
    }


_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>")
_ATTR_RE = re.compile(r"""([A-Za-z][A-Za-z0-9_-]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def _parse_error(source: str, index: int, message: str) -> BotAPIError:
    byte_offset = len(source[:index].encode())
    return _bad(f"can't parse entities: {message} at byte offset {byte_offset}")


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse text in ``parse_mode=HTML`` the way Telegram does: the plain text and its entities.

    Raises ``BotAPIError`` 400 "can't parse entities" for unsupported tags (``<br>``, ``<div>``…),
    unbalanced tags and a stray ``<``, which Telegram rejects too.
    """
    out: list[str] = []
    position16 = 0
    stack: list[tuple[str, JSON | None, int, int]] = []  # tag, entity, UTF-16 start, source index
    entities: list[JSON] = []
    index = 0
    while index < len(source):
        lt = source.find("<", index)
        chunk = source[index:] if lt < 0 else source[index:lt]
        if chunk:
            plain = html.unescape(chunk)
            out.append(plain)
            position16 += utf16_len(plain)
        if lt < 0:
            break
        match = _TAG_RE.match(source, lt)
        if match is None:
            raise _parse_error(source, lt, "Unexpected character '<'")
        closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
        if closing:
            if not stack:
                raise _parse_error(source, lt, f'Unexpected end tag "{name}"')
            open_name, entity, start, _ = stack.pop()
            if open_name != name:
                raise _parse_error(
                    source, lt, f'Unmatched end tag, expected "</{open_name}>", found "</{name}>"'
                )
            if entity is not None and position16 > start:
                entity["offset"] = start
                entity["length"] = position16 - start
                entities.append(entity)
        else:
            if name not in _HTML_TAGS:
                raise _parse_error(source, lt, f'Unsupported start tag "{name}"')
            attrs = {
                attr.group(1).lower(): next((g for g in attr.groups()[1:] if g is not None), "")
                for attr in _ATTR_RE.finditer(attributes)
            }
            entity = _html_entity(source, lt, name, attrs, stack)
            stack.append((name, entity, position16, lt))
        index = match.end()
    if stack:
        name, _, _, start_index = stack[-1]
        raise _parse_error(source, start_index, f'Can\'t find end tag corresponding to start tag "{name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(out), entities


def _html_entity(
    source: str, index: int, name: str, attrs: dict[str, str], stack: list[tuple[str, JSON | None, int, int]]
) -> JSON | None:
    kind = _HTML_TAGS[name]
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise _parse_error(source, index, 'Tag "span" must have class "tg-spoiler"')
    if name == "a":
        href = attrs.get("href", "")
        user_match = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user_match:
            return {
                "type": "text_mention",
                "user": {"id": int(user_match.group(1)), "is_bot": False, "first_name": ""},
            }
        return {"type": kind, "url": href} if href else None
    if name == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", "").startswith("language-"):
        parent = stack[-1][1]
        if parent is not None:
            parent["language"] = attrs["class"][len("language-") :]
        return None
    if name == "blockquote" and "expandable" in attrs:
        return {"type": "expandable_blockquote"}
    if name == "tg-emoji":
        if "emoji-id" not in attrs:
            raise _parse_error(source, index, 'Tag "tg-emoji" must have attribute "emoji-id"')
        return {"type": kind, "custom_emoji_id": attrs["emoji-id"]}
    return {"type": kind}


def check_markdown_v2(text: str) -> None:
    """Reject the most common MarkdownV2 mistake: a reserved character that is not escaped.

    Only characters that never open markup (``. ! # + - = { } |`` and ``>`` inside a line) are checked;
    the text itself is kept as sent (the fake does not compute MarkdownV2 entities).
    """
    index = 0
    in_code = False
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "`":
            in_code = not in_code
        elif in_code:
            pass
        elif char == "]" and text.startswith("(", index + 1):
            close = text.find(")", index + 2)
            index = close + 1 if close > 0 else len(text)
            continue
        elif char in ".!#+-={}" or (char == ">" and index > 0 and text[index - 1] != "\n"):
            raise _bad(
                f"can't parse entities: Character '{char}' is reserved and must be escaped with the "
                "preceding '\\'"
            )
        index += 1


# --------------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------------


def make_png(width: int = 1, height: int = 1) -> bytes:
    """A valid white PNG of the given size (for uploads in tests)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


TINY_PNG = make_png()


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG image, or None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                index += 1
                continue
            marker = data[index + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return int(width), int(height)
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                index += 2
                continue
            index += 2 + struct.unpack(">H", data[index + 2 : index + 4])[0]
    return None


# --------------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(slots=True)
class StoredFile:
    """A file the fake knows by file_id (uploaded by the bot, or part of an injected message)."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def file_size(self) -> int | None:
        return len(self.data) if self.data is not None else None


@dataclass(slots=True)
class SentCall:
    """One API call of the bot (everything except getUpdates), successful or not."""

    method: str  # canonical name, e.g. "sendMessage"
    params: JSON  # decoded parameters (ints, bools and JSON objects are real values)
    result: Any  # the "result" returned; None when the call failed
    time: float  # time.time() when the call arrived
    ok: bool = True
    error_code: int | None = None
    description: str | None = None
    files: dict[str, UploadedFile] = field(default_factory=dict)  # multipart file parts by part name
    via_webhook: bool = False  # the method came back in a webhook response body

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        """The text or caption as Telegram stored it (HTML parsed), else as sent."""
        if isinstance(self.result, dict):
            value = self.result.get("text", self.result.get("caption"))
            if value is not None:
                return str(value)
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    def upload(self, name: str) -> UploadedFile | None:
        """The uploaded file behind parameter ``name`` (``attach://…`` or a part named like it)."""
        value = self.params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value[len("attach://") :])
        return self.files.get(name)

    def describe(self) -> str:
        parts = [self.method]
        if self.chat_id is not None:
            parts.append(f"chat_id={self.chat_id}")
        for key in ("message_id", "callback_query_id"):
            if key in self.params:
                parts.append(f"{key}={self.params[key]}")
        text = self.params.get("text", self.params.get("caption"))
        if text is not None:
            shown = str(text)
            parts.append(repr(shown if len(shown) <= 80 else shown[:77] + "..."))
        parts.append("ok" if self.ok else f"-> {self.error_code} {self.description}")
        return " ".join(parts)


@dataclass(slots=True)
class RequestRecord:
    """One HTTP request to the API, getUpdates included (status is None while it is in flight)."""

    method: str  # as requested (case kept)
    http_method: str
    params: JSON
    time: float
    status: int | None = None


@dataclass(slots=True)
class WebhookDelivery:
    """One attempt to POST an update to the webhook."""

    update_id: int
    url: str
    attempt: int
    status: int | None  # HTTP status, None when the connection failed
    body: str  # response body (or a summary of a multipart reply)
    error: str | None
    time: float


@dataclass(slots=True)
class FloodLimits:
    """Flood control applied when ``enforce_limits`` is on: a token bucket per chat (``per_chat_burst``
    messages at once, refilled at ``per_chat_per_second``), a sliding minute per group and a sliding second
    over all chats."""

    per_chat_burst: int = 3
    per_chat_per_second: float = 1.0
    per_group_per_minute: int = 20
    global_per_second: int = 30


@dataclass(slots=True)
class ApiCall:
    """What a method handler gets."""

    method: str
    params: JSON
    files: dict[str, UploadedFile]
    via_webhook: bool = False
    description: str | None = None  # optional "description" next to a successful result


@dataclass(slots=True)
class _Fault:
    method: str
    error: BotAPIError
    times: int | None
    chat_id: Any


@dataclass(slots=True)
class _Delay:
    method: str
    seconds: float
    times: int | None
    chat_id: Any
    release: asyncio.Event | None = None  # hold_next: wait for this instead of `seconds`


@dataclass(slots=True)
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(slots=True)
class _Bucket:
    tokens: float
    last: float


# --------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------


def infer_chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    if chat_id <= SUPERGROUP_ID_BOUND:
        return "supergroup"
    return "group"


def _int(params: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise _bad(f"invalid {name} specified")


def _float(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {name} specified") from None


def _update_kind(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "unknown")


def _update_chat_key(update: Mapping[str, Any]) -> Any:
    """Updates with the same key are delivered to a webhook one after another."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat")
        if not isinstance(chat, dict) and isinstance(payload.get("message"), dict):
            chat = payload["message"].get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
        user = payload.get("from") or payload.get("user")
        if isinstance(user, dict) and "id" in user:
            return user["id"]
        return kind
    return "global"


def _strip_reply(message: JSON) -> JSON:
    return {key: value for key, value in message.items() if key != "reply_to_message"}


class FakeBotAPI:
    """A fake Bot API server; see the module docstring. All test controls are plain methods and must be
    called from the event loop the server runs in."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        known_chats: Iterable[int | str] | None = None,
        enforce_limits: bool = False,
        limits: FloodLimits | None = None,
        strict_file_ids: bool = True,
        first_update_id: int = 1,
        webhook_retry_delay: float = 0.05,
        webhook_retry_max_delay: float = 1.0,
        webhook_max_attempts: int | None = 20,
        webhook_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.known_chats: set[int | str] | None = set(known_chats) if known_chats is not None else None
        self.enforce_limits = enforce_limits
        self.limits = limits or FloodLimits()
        self.strict_file_ids = strict_file_ids
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_retry_max_delay = webhook_retry_max_delay
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_timeout = webhook_timeout
        self._clock = clock
        # where webhook updates are actually POSTed instead of the registered URL (tests register a
        # public https URL, as production must, and have the fake deliver to the bot's own port)
        self.webhook_redirect: str | None = None
        # rewrites each getUpdates result before it is sent, to play a broken Bot API (state is untouched)
        self.get_updates_hook: Callable[[list[JSON]], list[Any]] | None = None

        self.bot_user: JSON = {
            "id": BOT_USER_ID,
            "is_bot": True,
            "first_name": "Shagym Test",
            "username": BOT_USERNAME,
        }
        # Records
        self.sent: list[SentCall] = []
        self.requests: list[RequestRecord] = []
        self.confirmed_offsets: list[int] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.injected: list[JSON] = []
        self.dropped_updates: list[JSON] = []  # injected but filtered out by allowed_updates
        self.internal_errors: list[Exception] = []  # unexpected exceptions in the fake (answered as 500)
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self.callback_answers: dict[str, JSON] = {}
        # State
        self._next_update_id = first_update_id
        self._pending: deque[JSON] = deque()
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_KINDS
        self._allowed_updates_list: list[str] | None = None
        self._update_event = asyncio.Event()
        self._sent_event = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._members: dict[int, dict[int, JSON]] = {}
        self._history: dict[int, dict[int, JSON]] = {}
        self._bot_messages: dict[int, dict[int, None]] = {}
        self._last_message_id: dict[int, int] = {}
        self._callbacks: dict[str, bool] = {}  # callback_query_id -> answered
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._hangs: list[_Delay] = []
        self.hung: list[SentCall] = []  # calls held and dropped by hang_next: Telegram never processed them
        self.holding: list[str] = []  # methods of the calls hold_next keeps in flight right now
        self._blocked: dict[int, str] = {}
        self._buckets: dict[int, _Bucket] = {}
        self._group_windows: dict[int, deque[float]] = {}
        self._global_window: deque[float] = deque()
        self._webhook: _Webhook | None = None
        self._webhook_queues: dict[Any, deque[JSON]] = {}
        self._webhook_tasks: dict[Any, asyncio.Task[None]] = {}
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(1)
        self._media_group_counter = itertools.count(1)
        self._photo_sets: dict[str, list[JSON]] = {}  # file_id of any size -> all sizes of that photo
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._handlers: dict[str, MethodHandler] = {
            "getMe": self._m_get_me,
            "logOut": self._m_true,
            "close": self._m_true,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "sendMessage": self._m_send_message,
            "sendPhoto": self._m_send_photo,
            "sendDocument": self._m_send_document,
            "sendVideo": self._m_send_document,
            "sendAudio": self._m_send_document,
            "sendVoice": self._m_send_document,
            "sendAnimation": self._m_send_document,
            "sendMediaGroup": self._m_send_media_group,
            "sendLocation": self._m_send_location,
            "copyMessage": self._m_copy_message,
            "forwardMessage": self._m_forward_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "deleteMessages": self._m_delete_messages,
            "answerCallbackQuery": self._m_answer_callback_query,
            "getChat": self._m_get_chat,
            "getChatMember": self._m_get_chat_member,
            "getChatAdministrators": self._m_get_chat_administrators,
            "getChatMemberCount": self._m_get_chat_member_count,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "sendChatAction": self._m_send_chat_action,
            "getFile": self._m_get_file,
        }
        self._method_names = {name.lower(): name for name in self._handlers}

    # ---------------------------------------------------------------------------------------------------
    # Lifecycle
    # ---------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.webhook_timeout))

    async def stop(self) -> None:
        self._closing = True
        self._wake_pollers()
        tasks = list(self._webhook_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._webhook_tasks.clear()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43210`` (aiogram: ``TelegramAPIServer.from_base(url)``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``<url>/bot<token>`` — prefix of every method URL."""
        return f"{self.url}/bot{self.token}"

    # ---------------------------------------------------------------------------------------------------
    # Test controls: building and injecting updates
    # ---------------------------------------------------------------------------------------------------

    def user(
        self,
        id: int,
        first_name: str = "User",
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
        is_bot: bool = False,
    ) -> JSON:
        """A User object (remembered, so getChatMember/getChat can describe them)."""
        user: JSON = {"id": id, "is_bot": is_bot, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[id] = user
        return dict(user)

    def add_chat(
        self,
        chat_id: int,
        *,
        type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        is_forum: bool | None = None,
    ) -> JSON:
        """Register (or update) a chat; it becomes known even when ``known_chats`` restricts chats."""
        chat = dict(self._chats.get(chat_id) or self._default_chat(chat_id, type))
        if type is not None:
            chat["type"] = type
        for key, value in (
            ("title", title),
            ("username", username),
            ("first_name", first_name),
            ("last_name", last_name),
            ("is_forum", is_forum),
        ):
            if value is not None:
                chat[key] = value
        if chat["type"] == "private":
            chat.pop("title", None)
        self._remember_chat(chat)
        return dict(chat)

    def set_member(
        self, chat_id: int, user: Mapping[str, Any] | int, status: str = "member", **fields: Any
    ) -> JSON:
        """Set what getChatMember answers for ``user`` in ``chat_id`` (status creator, administrator, member,
        restricted, left or kicked; extra fields override the defaults, e.g. ``can_delete_messages=False``).
        Use ``fake.bot_user`` to change the bot's own status (by default it is an administrator in groups)."""
        user_obj = dict(user) if isinstance(user, Mapping) else self._user_obj(user)
        member = self._member_obj(user_obj, status)
        member.update(fields)
        self._members.setdefault(chat_id, {})[int(user_obj["id"])] = member
        return dict(member)

    def message_update(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        chat_type: str | None = None,
        chat_title: str | None = None,
        chat_username: str | None = None,
        from_user: Mapping[str, Any] | int | None = None,
        entities: list[JSON] | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        photo: bool = False,
        reply_to: Mapping[str, Any] | int | None = None,
        message_id: int | None = None,
        edited: bool = False,
        channel: bool = False,
        location: tuple[float, float] | Mapping[str, Any] | None = None,
        contact: Mapping[str, Any] | None = None,
        date: int | None = None,
        message_thread_id: int | None = None,
    ) -> JSON:
        """Build (not inject) an update with a message the way Telegram would deliver it.

        ``entities=None`` computes the entities a client adds (bot_command and @mention, UTF-16 offsets);
        pass ``[]`` for none. Private chats default the sender to the chat's user; groups to a resident
        (id 100001); ``channel=True`` builds a channel_post (no ``from``, ``sender_chat`` = the channel).
        ``edited=True`` builds edited_message / edited_channel_post (pass the original ``message_id``).
        """
        known = self._chats.get(chat_id)
        if channel:
            kind = "channel"
        elif chat_type is not None:
            kind = chat_type
        elif known is not None:
            kind = known["type"]
        else:
            kind = infer_chat_type(chat_id)
        chat = (
            dict(known) if known is not None and known["type"] == kind else self._default_chat(chat_id, kind)
        )
        if chat_title is not None and kind != "private":
            chat["title"] = chat_title
        if chat_username is not None:
            chat["username"] = chat_username
        now = int(time.time()) if date is None else int(date)
        if message_id is None:
            message_id = self._allocate_message_id(chat_id)
        else:
            self._last_message_id[chat_id] = max(self._last_message_id.get(chat_id, 0), message_id)
        message: JSON = {"message_id": message_id}
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            message["is_topic_message"] = True
        if kind == "channel":
            message["sender_chat"] = chat
        else:
            if from_user is None:
                sender = self._user_obj(chat_id) if kind == "private" else self._user_obj(100001, "Resident")
            elif isinstance(from_user, Mapping):
                sender = dict(from_user)
            else:
                sender = self._user_obj(from_user)
            message["from"] = sender
            if kind == "private":
                chat.setdefault("first_name", sender.get("first_name", "User"))
                if "username" in sender:
                    chat.setdefault("username", sender["username"])
        message["chat"] = chat
        message["date"] = now
        if edited:
            message["edit_date"] = now
        if reply_to is not None:
            if isinstance(reply_to, Mapping):
                message["reply_to_message"] = _strip_reply(dict(reply_to))
            else:
                original = self._history.get(chat_id, {}).get(reply_to)
                message["reply_to_message"] = (
                    _strip_reply(original)
                    if original is not None
                    else {"message_id": reply_to, "chat": chat, "date": now}
                )
        if text is not None:
            message["text"] = text
            found = auto_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
        if photo:
            message["photo"] = self._photo_sizes(self._new_file("photo", TINY_PNG, width=1280, height=960))
        if caption is not None:
            message["caption"] = caption
            found = auto_entities(caption) if caption_entities is None else caption_entities
            if found:
                message["caption_entities"] = found
        if location is not None:
            if isinstance(location, Mapping):
                message["location"] = dict(location)
            else:
                message["location"] = {"latitude": float(location[0]), "longitude": float(location[1])}
        if contact is not None:
            contact_obj = dict(contact)
            contact_obj.setdefault("phone_number", "+77010000000")
            contact_obj.setdefault("first_name", message.get("from", {}).get("first_name", "User"))
            message["contact"] = contact_obj
        if kind == "channel":
            key = "edited_channel_post" if edited else "channel_post"
        else:
            key = "edited_message" if edited else "message"
        return {key: message}

    def callback_update(
        self,
        from_user: Mapping[str, Any] | int,
        data: str,
        message: Mapping[str, Any] | SentCall | tuple[int, int],
        *,
        callback_id: str | None = None,
    ) -> JSON:
        """Build an update with a button press. ``message`` is the message with the keyboard: a Message
        dict (e.g. from ``messages_in``), a ``SentCall`` that returned it, or ``(chat_id, message_id)``."""
        if isinstance(message, SentCall):
            message_obj = dict(message.result)
        elif isinstance(message, tuple):
            chat_id, message_id = message
            found = self._history.get(chat_id, {}).get(message_id)
            if found is None:
                raise KeyError(f"no message {message_id} in chat {chat_id}")
            message_obj = dict(found)
        else:
            message_obj = dict(message)
        user = dict(from_user) if isinstance(from_user, Mapping) else self._user_obj(from_user)
        query_id = callback_id or str(4_380_000_000_000_000_000 + next(self._callback_counter))
        chat_id = message_obj.get("chat", {}).get("id", 0)
        return {
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": message_obj,
                "chat_instance": str(abs(hash(("chat", chat_id))) % 10**19),
                "data": data,
            }
        }

    def member_update(
        self,
        chat_id: int,
        new_status: str,
        *,
        user: Mapping[str, Any] | int | None = None,
        old_status: str = "left",
        from_user: Mapping[str, Any] | int | None = None,
        date: int | None = None,
    ) -> JSON:
        """Build a ``my_chat_member`` update (``user`` None: the bot itself, e.g. added to a group as
        "member"/"administrator" or removed as "left"/"kicked") or a ``chat_member`` update for another
        user. Injecting it also updates what getChatMember answers."""
        if user is None:
            member_user = dict(self.bot_user)
        elif isinstance(user, Mapping):
            member_user = dict(user)
        else:
            member_user = self._user_obj(user)
        if from_user is None:
            actor = self._user_obj(100001, "Resident")
        elif isinstance(from_user, Mapping):
            actor = dict(from_user)
        else:
            actor = self._user_obj(from_user)
        chat = dict(self._chats.get(chat_id) or self._default_chat(chat_id))
        kind = "my_chat_member" if member_user["id"] == self.bot_user["id"] else "chat_member"
        return {
            kind: {
                "chat": chat,
                "from": actor,
                "date": int(time.time()) if date is None else int(date),
                "old_chat_member": self._member_obj(member_user, old_status),
                "new_chat_member": self._member_obj(member_user, new_status),
            }
        }

    def inject(self, update: JSON) -> JSON:
        """Queue an update for getUpdates (or push it to the webhook). Assigns ``update_id`` if missing and
        returns the update. Updates of kinds excluded by the bot's allowed_updates are dropped (recorded in
        ``dropped_updates``), as Telegram does."""
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        update_id = int(update["update_id"])
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._register_update(update)
        self.injected.append(update)
        if _update_kind(update) not in self._allowed_updates:
            self.dropped_updates.append(update)
            return update
        if self._webhook is not None:
            self._enqueue_webhook(update)
        else:
            if self._pending and self._pending[-1]["update_id"] > update_id:
                position = bisect.bisect([u["update_id"] for u in self._pending], update_id)
                self._pending.insert(position, update)
            else:
                self._pending.append(update)
            self._wake_pollers()
        return update

    def inject_message(self, chat_id: int, text: str | None = None, **kwargs: Any) -> JSON:
        """``inject(message_update(chat_id, text, **kwargs))``; returns the update."""
        return self.inject(self.message_update(chat_id, text, **kwargs))

    def inject_callback(
        self,
        from_user: Mapping[str, Any] | int,
        data: str,
        message: Mapping[str, Any] | SentCall | tuple[int, int],
    ) -> JSON:
        """``inject(callback_update(from_user, data, message))``; returns the update."""
        return self.inject(self.callback_update(from_user, data, message))

    mention_entities = staticmethod(mention_entities)
    auto_entities = staticmethod(auto_entities)

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed (polling) or not yet delivered (webhook)."""
        if self._webhook is not None:
            return sorted(
                (u for queue in self._webhook_queues.values() for u in queue), key=lambda u: u["update_id"]
            )
        return list(self._pending)

    @property
    def confirmed_offset(self) -> int | None:
        """The last offset the client confirmed with getUpdates (every one is in ``confirmed_offsets``)."""
        return self.confirmed_offsets[-1] if self.confirmed_offsets else None

    @property
    def allowed_updates(self) -> list[str] | None:
        """allowed_updates as last set by the bot (None: never set, Telegram's default applies)."""
        return None if self._allowed_updates_list is None else list(self._allowed_updates_list)

    @property
    def webhook_url(self) -> str | None:
        return None if self._webhook is None else self._webhook.url

    @property
    def webhook_secret_token(self) -> str | None:
        """The secret_token given to the last setWebhook (None: no webhook, or set without one)."""
        return None if self._webhook is None else self._webhook.secret_token

    def register_file(
        self,
        file_id: str,
        data: bytes | None = None,
        *,
        kind: str = "document",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Make an arbitrary file_id known (for raw updates that reference files)."""
        number = next(self._file_counter)
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=f"AQAD{number:06d}",
            kind=kind,
            data=data,
            file_path=f"{kind}s/file_{number}{self._extension(file_name, mime_type, kind)}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def register_method(self, name: str, handler: MethodHandler) -> None:
        """Serve an extra method (or replace a built-in one). ``handler(call: ApiCall)`` returns the result
        or raises ``BotAPIError``."""
        self._handlers[name] = handler
        self._method_names[name.lower()] = name

    def my_commands(self, *, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[JSON]:
        """Commands set with setMyCommands for a scope (default scope when None) and language."""
        return [dict(c) for c in self._commands.get(self._commands_key(scope, language_code), [])]

    # ---------------------------------------------------------------------------------------------------
    # Test controls: faults
    # ---------------------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` ("*" = any; ``times=None`` = until
        ``clear_faults``), optionally only for ``chat_id``, with an error. A 429 always carries
        ``parameters.retry_after`` (default 1). Without ``description`` a Telegram-like text is used."""
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code, "Internal Server Error")
        error = BotAPIError(error_code, description, retry_after=retry_after)
        self._faults.append(_Fault(self._fault_method(method), error, times, chat_id))

    def delay_next(
        self, method: str, seconds: float, times: int | None = 1, *, chat_id: int | str | None = None
    ) -> None:
        """Hold the next ``times`` calls of ``method`` ("*" = any) for ``seconds`` before handling them.
        The call still takes effect afterwards, like a real time-out where Telegram did send the message."""
        self._delays.append(_Delay(self._fault_method(method), seconds, times, chat_id))

    def hold_next(self, method: str, *, chat_id: int | str | None = None) -> asyncio.Event:
        """Hold the next call of ``method`` ("*" = any) until the returned event is set, then handle it
        normally: a test can keep a request in flight while it breaks something else."""
        release = asyncio.Event()
        self._delays.append(_Delay(self._fault_method(method), 0.0, 1, chat_id, release))
        return release

    def hang_next(
        self, method: str, seconds: float = 30.0, times: int | None = 1, *, chat_id: int | str | None = None
    ) -> None:
        """Hold the next ``times`` calls of ``method`` ("*" = any, getUpdates included) without answering,
        until the client gives up or ``seconds`` pass, then drop them: the call has no effect and is not
        recorded in ``sent`` (it is in ``hung``), like a request lost before Telegram processed it."""
        self._hangs.append(_Delay(self._fault_method(method), seconds, times, chat_id))

    def block_chat(self, chat_id: int, description: str = KICKED) -> None:
        """Every call addressed to ``chat_id`` answers 403 ``description`` until ``unblock_chat``."""
        self._blocked[chat_id] = description

    def unblock_chat(self, chat_id: int) -> None:
        self._blocked.pop(chat_id, None)

    def clear_faults(self) -> None:
        """Forget pending fail_next / delay_next / hang_next rules and blocked chats."""
        self._faults.clear()
        self._delays.clear()
        self._hangs.clear()
        self._blocked.clear()

    # ---------------------------------------------------------------------------------------------------
    # Test controls: inspection
    # ---------------------------------------------------------------------------------------------------

    def calls(
        self,
        method: str | None = None,
        *,
        chat_id: int | str | None = None,
        ok: bool | None = True,
        where: Callable[[SentCall], bool] | None = None,
    ) -> list[SentCall]:
        """Recorded calls filtered by method (case-insensitive), chat, success (None: both), predicate."""
        wanted = None if method is None else self._method_names.get(method.lower(), method)
        return [
            call
            for call in self.sent
            if (wanted is None or call.method == wanted)
            and (chat_id is None or call.params.get("chat_id") == chat_id)
            and (ok is None or call.ok == ok)
            and (where is None or where(call))
        ]

    def messages_in(self, chat_id: int | str) -> list[JSON]:
        """Current state of the messages the bot sent to a chat, oldest first (edits applied, deletions
        removed)."""
        resolved = self._resolve_chat_id(chat_id)
        if resolved is None:
            return []
        history = self._history.get(resolved, {})
        ids = self._bot_messages.get(resolved, {})
        return [json.loads(json.dumps(history[mid])) for mid in ids if mid in history]

    def history(self, chat_id: int | str) -> list[JSON]:
        """Every message in a chat known to the fake (injected and sent), by message_id."""
        resolved = self._resolve_chat_id(chat_id)
        if resolved is None:
            return []
        return [json.loads(json.dumps(m)) for _, m in sorted(self._history.get(resolved, {}).items())]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        found = self._history.get(chat_id, {}).get(message_id)
        return None if found is None else json.loads(json.dumps(found))

    def clear_records(self) -> None:
        """Forget recorded calls, requests and webhook deliveries (state is kept)."""
        self.sent.clear()
        self.requests.clear()
        self.webhook_deliveries.clear()
        self.confirmed_offsets.clear()

    async def wait_for(self, predicate: Predicate, timeout: float = 5.0) -> Any:
        """Wait until ``predicate(fake.sent)`` is truthy and return its value. Re-checked after recorded calls
        (at most every 10 ms, so predicates scanning ``sent`` stay cheap under load) and every 50 ms. On
        time-out raises AssertionError listing what was sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            checked = loop.time()
            result = predicate(self.sent)
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"wait_for: condition not met within {timeout}s\n{self.describe_sent()}")
            event = self._sent_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))
            pause = min(checked + 0.01, deadline) - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)

    async def wait_for_call(
        self,
        method: str,
        *,
        chat_id: int | str | None = None,
        where: Callable[[SentCall], bool] | None = None,
        count: int = 1,
        ok: bool | None = True,
        timeout: float = 15.0,  # generous: a loaded 2-core CI machine; it only costs time when a test fails
    ) -> SentCall:
        """Wait for the ``count``-th matching call (see ``calls``) and return it."""

        def found(_: list[SentCall]) -> SentCall | None:
            matches = self.calls(method, chat_id=chat_id, ok=ok, where=where)
            return matches[count - 1] if len(matches) >= count else None

        try:
            result: SentCall = await self.wait_for(found, timeout)
        except AssertionError:
            raise AssertionError(
                f"wait_for_call: no {count} x {method} (chat_id={chat_id}, ok={ok}) within {timeout}s\n"
                f"{self.describe_sent()}"
            ) from None
        return result

    async def wait_webhook_idle(self, timeout: float = 5.0) -> None:
        """Wait until every webhook queue is drained (delivered or given up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(self._webhook_queues.values()):
            if loop.time() >= deadline:
                raise AssertionError(
                    f"webhook still has {len(self.pending_updates)} undelivered update(s) after {timeout}s; "
                    f"last attempts: {self.webhook_deliveries[-5:]}"
                )
            await asyncio.sleep(0.01)

    def describe_sent(self, last: int = 40) -> str:
        if not self.sent:
            return "nothing was sent"
        shown = self.sent[-last:]
        start = self.sent[0].time
        lines = [f"{len(self.sent)} call(s) sent" + (f", last {last}:" if len(self.sent) > last else ":")]
        lines.extend(f"  +{call.time - start:7.3f}s {call.describe()}" for call in shown)
        return "\n".join(lines)

    # ---------------------------------------------------------------------------------------------------
    # HTTP
    # ---------------------------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        requested = request.match_info["method"]
        record = RequestRecord(method=requested, http_method=request.method, params={}, time=time.time())
        self.requests.append(record)
        status, payload = await self._process(request, record)
        record.status = status
        return web.Response(
            status=status,
            body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
            content_type="application/json",
        )

    async def _process(self, request: web.Request, record: RequestRecord) -> tuple[int, JSON]:
        if request.match_info["token"] != self.token:
            return 401, BotAPIError(401, "Unauthorized").payload()
        try:
            params, files = await self._read_params(request)
        except BotAPIError as error:
            return error.error_code, error.payload()
        record.params = params
        method = self._method_names.get(request.match_info["method"].lower())
        if method is None:
            return 404, BotAPIError(404, "Not Found").payload()
        hang = self._take_rule(self._hangs, method, self._peek_chat_id(params))
        if hang is not None:
            arrived = time.time()
            await self._hold(request, hang.seconds)
            self.hung.append(
                SentCall(method, params, None, arrived, ok=False, error_code=504, description="held, dropped")
            )
            return 504, BotAPIError(504, "Gateway Timeout").payload()
        return await self._execute(method, params, files)

    async def _hold(self, request: web.Request, seconds: float) -> None:
        """Wait until the client closes the connection (its time-out) or `seconds` pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline and not self._closing:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.05)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(BotAPIError(401, "Unauthorized").payload(), status=401)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is not None and stored.data is not None:
            return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")
        return web.json_response(BotAPIError(404, "Not Found").payload(), status=404)

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
        params: JSON = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                raw = await request.read()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise _bad("can't parse JSON encoded request") from None
                    if not isinstance(body, dict):
                        raise _bad("request body must be a JSON object")
                    params.update(body)
            elif content_type == "multipart/form-data":
                await self._read_multipart(await request.multipart(), params, files)
            else:
                form = await request.post()
                params.update({key: value for key, value in form.items() if isinstance(value, str)})
        return self._normalize(params), files

    @staticmethod
    async def _read_multipart(
        reader: aiohttp.MultipartReader, params: JSON, files: dict[str, UploadedFile]
    ) -> None:
        while True:
            part = await reader.next()
            if part is None:
                return
            if not isinstance(part, aiohttp.BodyPartReader):
                await FakeBotAPI._read_multipart(part, params, files)
                continue
            name = part.name or ""
            if part.filename is not None:
                data = bytes(await part.read(decode=True))
                files[name] = UploadedFile(name, part.filename, part.headers.get("Content-Type"), data)
            else:
                params[name] = await part.text()

    @staticmethod
    def _normalize(params: JSON) -> JSON:
        for key, value in params.items():
            if not isinstance(value, str):
                continue
            if key in _JSON_PARAMS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if key == "reply_markup" else key
                    raise _bad(f"can't parse {what} JSON object") from None
            elif key in _INT_PARAMS:
                if _INT_RE.fullmatch(value.strip()):
                    params[key] = int(value)
            elif key in _BOOL_PARAMS:
                params[key] = value.strip().lower() in ("true", "1")
            elif key in _FLOAT_PARAMS:
                with contextlib.suppress(ValueError):
                    params[key] = float(value)
        return params

    # ---------------------------------------------------------------------------------------------------
    # Dispatch, faults and flood control
    # ---------------------------------------------------------------------------------------------------

    async def _execute(
        self, method: str, params: JSON, files: dict[str, UploadedFile], *, via_webhook: bool = False
    ) -> tuple[int, JSON]:
        arrived = time.time()
        chat_key = self._peek_chat_id(params)
        call = ApiCall(method, params, files, via_webhook)
        try:
            delay = self._take_rule(self._delays, method, chat_key)
            if delay is not None:
                if delay.release is not None:
                    self.holding.append(method)
                    try:
                        await delay.release.wait()
                    finally:
                        self.holding.remove(method)
                else:
                    await asyncio.sleep(delay.seconds)
            fault = self._take_rule(self._faults, method, chat_key)
            if fault is not None:
                raise fault.error
            if isinstance(chat_key, int) and chat_key in self._blocked:
                raise BotAPIError(403, self._blocked[chat_key])
            if self.enforce_limits and method in _SENDING_METHODS:
                self._check_limits(
                    chat_key, len(params.get("media") or ()) if method == "sendMediaGroup" else 1
                )
            result = await self._handlers[method](call)
        except BotAPIError as error:
            failure = error
        except Exception as exc:  # a bug in the fake or a parameter it cannot digest: answer like a 500
            self.internal_errors.append(exc)
            failure = BotAPIError(500, f"Internal Server Error: fake Bot API failed: {exc!r}")
        else:
            payload: JSON = {"ok": True, "result": result}
            if call.description is not None:
                payload["description"] = call.description
            self._record(SentCall(method, params, result, arrived, files=files, via_webhook=via_webhook))
            return 200, payload
        self._record(
            SentCall(
                method,
                params,
                None,
                arrived,
                ok=False,
                error_code=failure.error_code,
                description=failure.description,
                files=files,
                via_webhook=via_webhook,
            )
        )
        return failure.error_code, failure.payload()

    def _record(self, call: SentCall) -> None:
        if call.method == "getUpdates":
            return
        self.sent.append(call)
        self._sent_event.set()
        self._sent_event = asyncio.Event()

    def _fault_method(self, method: str) -> str:
        return "*" if method == "*" else self._method_names.get(method.lower(), method)

    def _peek_chat_id(self, params: Mapping[str, Any]) -> Any:
        value = params.get("chat_id")
        if isinstance(value, str) and value.startswith("@"):
            return self._resolve_chat_id(value) or value
        return value

    @staticmethod
    def _take_rule(rules: list[Any], method: str, chat_key: Any) -> Any:
        for index, rule in enumerate(rules):
            if rule.method not in ("*", method):
                continue
            if rule.chat_id is not None and rule.chat_id != chat_key:
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    del rules[index]
            return rule
        return None

    def _check_limits(self, chat_id: Any, count: int) -> None:
        if not isinstance(chat_id, int):
            return
        limits = self.limits
        now = self._clock()
        retry_after = 0
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            bucket = self._buckets[chat_id] = _Bucket(float(limits.per_chat_burst), now)
        tokens = min(
            float(limits.per_chat_burst), bucket.tokens + (now - bucket.last) * limits.per_chat_per_second
        )
        if tokens < count:
            retry_after = max(retry_after, math.ceil((count - tokens) / limits.per_chat_per_second))
        window: deque[float] | None = None
        if chat_id < 0:
            window = self._group_windows.setdefault(chat_id, deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) + count > limits.per_group_per_minute:
                retry_after = max(retry_after, math.ceil(60.0 - (now - window[0])) if window else 60)
        global_window = self._global_window
        while global_window and now - global_window[0] >= 1.0:
            global_window.popleft()
        if len(global_window) + count > limits.global_per_second:
            retry_after = max(retry_after, 1)
        if retry_after:
            bucket.tokens, bucket.last = tokens, now
            raise BotAPIError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        bucket.tokens, bucket.last = tokens - count, now
        if window is not None:
            window.extend([now] * count)
        global_window.extend([now] * count)

    # ---------------------------------------------------------------------------------------------------
    # Update bookkeeping and long polling
    # ---------------------------------------------------------------------------------------------------

    def _wake_pollers(self) -> None:
        self._update_event.set()
        self._update_event = asyncio.Event()

    def _set_allowed_updates(self, value: Any) -> None:
        if not isinstance(value, list):
            raise _bad("can't parse allowed_updates JSON object")
        self._allowed_updates_list = [str(kind) for kind in value]
        self._allowed_updates = frozenset(self._allowed_updates_list) or DEFAULT_UPDATE_KINDS

    def _register_update(self, update: JSON) -> None:
        for kind, payload in update.items():
            if not isinstance(payload, dict):
                continue
            if kind in MESSAGE_UPDATE_KINDS:
                self._register_message(payload)
            elif kind == "callback_query":
                self._callbacks[str(payload["id"])] = False
                if isinstance(payload.get("from"), dict):
                    self._users.setdefault(payload["from"]["id"], payload["from"])
            elif kind in ("my_chat_member", "chat_member"):
                chat = payload.get("chat")
                member = payload.get("new_chat_member")
                if isinstance(chat, dict):
                    self._remember_chat(chat)
                    if isinstance(member, dict) and isinstance(member.get("user"), dict):
                        self._members.setdefault(chat["id"], {})[member["user"]["id"]] = member

    def _register_message(self, message: JSON) -> None:
        chat = message.get("chat")
        if not isinstance(chat, dict) or "id" not in chat:
            return
        chat_id = int(chat["id"])
        self._remember_chat(chat)
        sender = message.get("from")
        if isinstance(sender, dict) and "id" in sender:
            self._users.setdefault(sender["id"], sender)
        message_id = int(message.get("message_id", 0))
        self._last_message_id[chat_id] = max(self._last_message_id.get(chat_id, 0), message_id)
        self._history.setdefault(chat_id, {})[message_id] = message
        for size in message.get("photo") or ():
            if size.get("file_id") not in self.files:
                self.register_file(size["file_id"], kind="photo")
        for key in MEDIA_KEYS[1:]:
            media = message.get(key)
            if isinstance(media, dict) and media.get("file_id") not in self.files:
                self.register_file(media["file_id"], kind=key, file_name=media.get("file_name"))

    def _remember_chat(self, chat: Mapping[str, Any]) -> None:
        chat_id = int(chat["id"])
        merged = dict(self._chats.get(chat_id, {}))
        merged.update(chat)
        self._chats[chat_id] = merged
        if self.known_chats is not None:
            self.known_chats.add(chat_id)

    async def _m_get_updates(self, call: ApiCall) -> list[JSON]:
        params = call.params
        if self._webhook is not None:
            raise BotAPIError(409, CONFLICT_WEBHOOK)
        offset = _int(params, "offset", 0) or 0
        limit = min(100, max(1, _int(params, "limit", 100) or 100))
        timeout = max(0.0, _float(params, "timeout") or 0.0)
        if params.get("allowed_updates") is not None:
            self._set_allowed_updates(params["allowed_updates"])
        if offset > 0:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
            if not self.confirmed_offsets or self.confirmed_offsets[-1] != offset:
                self.confirmed_offsets.append(offset)
        elif offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older long poll is terminated with 409, like Telegram does
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._pending:
                batch = list(itertools.islice(self._pending, limit))
                hook = self.get_updates_hook
                return batch if hook is None else hook([dict(update) for update in batch])
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing or self._webhook is not None:
                return []
            event = self._update_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
            if self._poll_generation != generation:
                raise BotAPIError(409, CONFLICT_POLLING)

    # ---------------------------------------------------------------------------------------------------
    # Webhook
    # ---------------------------------------------------------------------------------------------------

    async def _m_set_webhook(self, call: ApiCall) -> bool:
        params = call.params
        url = str(params.get("url") or "")
        if not url:
            return await self._m_delete_webhook(call)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if params.get("allowed_updates") is not None:
            self._set_allowed_updates(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self._pending.clear()
            for queue in self._webhook_queues.values():
                queue.clear()
        self._webhook = _Webhook(
            url, None if secret is None else str(secret), _int(params, "max_connections", 40) or 40
        )
        pending = list(self._pending)
        self._pending.clear()
        self._wake_pollers()
        for update in pending:
            self._enqueue_webhook(update)
        for key, queue in self._webhook_queues.items():
            if queue and key not in self._webhook_tasks:
                self._webhook_tasks[key] = asyncio.get_running_loop().create_task(self._webhook_worker(key))
        call.description = "Webhook was set"
        return True

    async def _m_delete_webhook(self, call: ApiCall) -> bool:
        was_set = self._webhook is not None
        self._webhook = None
        current = asyncio.current_task()
        tasks = [task for task in self._webhook_tasks.values() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._webhook_tasks.clear()
        undelivered = sorted(
            (u for queue in self._webhook_queues.values() for u in queue), key=lambda u: u["update_id"]
        )
        self._webhook_queues.clear()
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        else:
            merged = sorted([*self._pending, *undelivered], key=lambda u: u["update_id"])
            self._pending = deque(merged)
            self._wake_pollers()
        call.description = "Webhook was deleted" if was_set else "Webhook is already deleted"
        return True

    async def _m_get_webhook_info(self, call: ApiCall) -> JSON:
        webhook = self._webhook
        if webhook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._pending)}
        info: JSON = {
            "url": webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": sum(len(queue) for queue in self._webhook_queues.values()),
            "max_connections": webhook.max_connections,
            "ip_address": "127.0.0.1",
        }
        if self._allowed_updates_list is not None:
            info["allowed_updates"] = list(self._allowed_updates_list)
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        return info

    def _enqueue_webhook(self, update: JSON) -> None:
        key = _update_chat_key(update)
        self._webhook_queues.setdefault(key, deque()).append(update)
        if key not in self._webhook_tasks:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # started on the next setWebhook
            self._webhook_tasks[key] = loop.create_task(self._webhook_worker(key))

    async def _webhook_worker(self, key: Any) -> None:
        queue = self._webhook_queues.get(key)
        try:
            while queue and self._webhook is not None:
                await self._deliver(queue[0])
                if queue:
                    queue.popleft()
        finally:
            if self._webhook_tasks.get(key) is asyncio.current_task():
                del self._webhook_tasks[key]
            if queue is not None and not queue and self._webhook_queues.get(key) is queue:
                del self._webhook_queues[key]

    async def _deliver(self, update: JSON) -> bool:
        delay = self.webhook_retry_delay
        attempt = 0
        body = json.dumps(update, ensure_ascii=False).encode()
        while True:
            attempt += 1
            webhook = self._webhook
            client = self._client
            if webhook is None or client is None:
                return False
            headers = {"Content-Type": "application/json"}
            if webhook.secret_token is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
            status: int | None = None
            text = ""
            error: str | None = None
            reply: tuple[JSON, dict[str, UploadedFile]] | None = None
            try:
                target = self.webhook_redirect or webhook.url
                async with client.post(target, data=body, headers=headers) as response:
                    status = response.status
                    if 200 <= status < 300 and response.content_type == "multipart/form-data":
                        params: JSON = {}
                        files: dict[str, UploadedFile] = {}
                        await self._read_multipart(
                            aiohttp.MultipartReader(response.headers, response.content), params, files
                        )
                        reply = (params, files)
                        text = f"<multipart {sorted(params)}>"
                    else:
                        text = (await response.read()).decode(errors="replace")
                        if 200 <= status < 300 and response.content_type == "application/json":
                            with contextlib.suppress(ValueError):
                                decoded = json.loads(text)
                                if isinstance(decoded, dict) and "method" in decoded:
                                    reply = (decoded, {})
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.webhook_deliveries.append(
                WebhookDelivery(
                    int(update["update_id"]), webhook.url, attempt, status, text, error, time.time()
                )
            )
            if status is not None and 200 <= status < 300:
                if reply is not None:
                    await self._run_webhook_reply(*reply)
                return True
            webhook.last_error_date = int(time.time())
            webhook.last_error_message = (
                f"Wrong response from the webhook: {status} {text[:100]}".strip() if error is None else error
            )
            if self.webhook_max_attempts is not None and attempt >= self.webhook_max_attempts:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.webhook_retry_max_delay)

    async def _run_webhook_reply(self, params: JSON, files: dict[str, UploadedFile]) -> None:
        params = self._normalize(dict(params))
        method = self._method_names.get(str(params.pop("method", "")).lower())
        if method is not None and method != "getUpdates":
            await self._execute(method, params, files, via_webhook=True)

    # ---------------------------------------------------------------------------------------------------
    # Chats, users, members, messages
    # ---------------------------------------------------------------------------------------------------

    def _default_chat(self, chat_id: int, chat_type: str | None = None) -> JSON:
        kind = chat_type or infer_chat_type(chat_id)
        chat: JSON = {"id": chat_id, "type": kind}
        if kind == "private":
            user = self._users.get(chat_id)
            chat["first_name"] = user.get("first_name", "User") if user else "User"
            if user and "username" in user:
                chat["username"] = user["username"]
        else:
            chat["title"] = f"Test {kind} {chat_id}"
        return chat

    def _chat_obj(self, chat_id: int) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = self._default_chat(chat_id)
        return chat

    def _user_obj(self, user_id: int, first_name: str = "User") -> JSON:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = {"id": user_id, "is_bot": False, "first_name": first_name}
        return dict(user)

    @staticmethod
    def _member_obj(user: JSON, status: str) -> JSON:
        member: JSON = {"user": user, "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=True,
                can_edit_stories=True,
                can_delete_stories=True,
                can_send_welcome_messages=True,
                can_pin_messages=True,
                can_manage_topics=True,
            )
        elif status == "restricted":
            member.update(
                is_member=True,
                can_send_messages=False,
                can_send_audios=False,
                can_send_documents=False,
                can_send_photos=False,
                can_send_videos=False,
                can_send_video_notes=False,
                can_send_voice_notes=False,
                can_send_polls=False,
                can_send_other_messages=False,
                can_add_web_page_previews=False,
                can_change_info=False,
                can_invite_users=False,
                can_pin_messages=False,
                can_manage_topics=False,
                until_date=0,
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _resolve_chat_id(self, value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            if _INT_RE.fullmatch(value.strip()):
                return int(value)
            if value.startswith("@"):
                wanted = value[1:].lower()
                for chat_id, chat in self._chats.items():
                    if str(chat.get("username", "")).lower() == wanted:
                        return chat_id
        return None

    def _require_chat(self, params: Mapping[str, Any], name: str = "chat_id") -> int:
        value = params.get(name)
        if value is None or value == "":
            raise _bad(f"{name} is empty")
        chat_id = self._resolve_chat_id(value)
        if chat_id is None or chat_id == 0:
            raise _bad("chat not found")
        if self.known_chats is not None and chat_id not in self.known_chats and value not in self.known_chats:
            raise _bad("chat not found")
        return chat_id

    def _allocate_message_id(self, chat_id: int) -> int:
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        return message_id

    def _formatted(
        self, params: Mapping[str, Any], text_key: str, entities_key: str, *, caption: bool
    ) -> tuple[str | None, list[JSON]]:
        raw = params.get(text_key)
        if raw is None or raw == "":
            if caption:
                return None, []
            raise _bad("message text is empty")
        text = str(raw)
        entities = params.get(entities_key)
        if entities is not None:
            if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
                raise _bad(f"can't parse {entities_key} JSON object")
            entities = [dict(e) for e in entities]
        else:
            entities = []
            parse_mode = str(params.get("parse_mode") or "").lower()
            if parse_mode == "html":
                text, entities = parse_html(text)
            elif parse_mode == "markdownv2":
                check_markdown_v2(text)
            elif parse_mode not in ("", "markdown"):
                raise _bad("unsupported parse_mode")
        if not text.strip():
            if caption:
                return None, []
            raise _bad("message text is empty")
        if caption and utf16_len(text) > CAPTION_LIMIT:
            raise _bad("message caption is too long")
        if not caption and utf16_len(text) > TEXT_LIMIT:
            raise _bad("message is too long")
        return text, entities

    @staticmethod
    def _markup(params: Mapping[str, Any]) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup
        keyboard = markup["inline_keyboard"]
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        for row in keyboard:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
                if not any(action in button for action in BUTTON_ACTIONS):
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
                    raise _bad(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")
        return markup

    def _new_bot_message(self, chat_id: int, params: Mapping[str, Any], markup: JSON | None) -> JSON:
        chat = self._chat_obj(chat_id)
        reply_to = self._reply_target(chat_id, params)
        message: JSON = {"message_id": self._allocate_message_id(chat_id)}
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = self.bot_user
        message["chat"] = chat
        message["date"] = int(time.time())
        thread_id = _int(params, "message_thread_id")
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = _strip_reply(reply_to)
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _reply_target(self, chat_id: int, params: Mapping[str, Any]) -> JSON | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            target_id = _int(reply, "message_id")
            target_chat = self._resolve_chat_id(reply.get("chat_id", chat_id)) or chat_id
            allow_missing = bool(reply.get("allow_sending_without_reply"))
        else:
            target_id = _int(params, "reply_to_message_id")
            target_chat = chat_id
            allow_missing = bool(params.get("allow_sending_without_reply"))
        if not target_id:
            return None
        target = self._history.get(target_chat, {}).get(target_id)
        if target is None and not allow_missing:
            raise _bad("message to be replied not found")
        return target

    def _store_bot_message(self, message: JSON) -> JSON:
        chat_id = int(message["chat"]["id"])
        self._history.setdefault(chat_id, {})[message["message_id"]] = message
        self._bot_messages.setdefault(chat_id, {})[message["message_id"]] = None
        return message

    def _existing_bot_message(self, params: Mapping[str, Any], *, action: str) -> JSON:
        chat_id = self._require_chat(params)
        message_id = _int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._history.get(chat_id, {}).get(message_id)
        if message is None:
            raise _bad(f"message to {action} not found")
        if message_id not in self._bot_messages.get(chat_id, {}):
            raise _bad(f"message can't be {action}ed")
        return message

    # ---------------------------------------------------------------------------------------------------
    # Files
    # ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _extension(file_name: str | None, mime_type: str | None, kind: str) -> str:
        if file_name and "." in file_name:
            return "." + file_name.rsplit(".", 1)[1]
        if mime_type:
            return mimetypes.guess_extension(mime_type) or ""
        return ".jpg" if kind == "photo" else ""

    def _new_file(
        self,
        kind: str,
        data: bytes | None,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredFile:
        number = next(self._file_counter)
        prefix = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI", "video": "BAACAgIAAxkBAAI"}.get(
            kind, "CQACAgIAAxkBAAI"
        )
        stored = StoredFile(
            file_id=f"{prefix}{number:06d}fake",
            file_unique_id=f"AQAD{number:06d}",
            kind=kind,
            data=data,
            file_path=f"{kind}s/file_{number}{self._extension(file_name, mime_type, kind)}",
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _photo_sizes(self, original: StoredFile) -> list[JSON]:
        width, height = original.width or 800, original.height or 600
        longest = max(width, height)
        if longest > 2560:  # Telegram keeps at most 2560 px on the longest side
            width, height = max(1, round(width * 2560 / longest)), max(1, round(height * 2560 / longest))
            longest = 2560
        original.width, original.height = width, height
        sizes: list[JSON] = []
        for target in (90, 320, 800):
            if longest > target:
                scale = target / longest
                thumb = self._new_file(
                    "photo",
                    original.data,
                    width=max(1, round(width * scale)),
                    height=max(1, round(height * scale)),
                )
                sizes.append(self._photo_size(thumb))
        sizes.append(self._photo_size(original))
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return sizes

    @staticmethod
    def _photo_size(stored: StoredFile) -> JSON:
        size: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": stored.width,
            "height": stored.height,
        }
        if stored.file_size is not None:
            size["file_size"] = stored.file_size
        return size

    def _input_file(self, call: ApiCall, value: Any, field_name: str, kind: str) -> StoredFile | str:
        """Resolve an InputFile parameter: an upload (attach:// or a part named like the field), a known
        file_id, or an HTTP URL (returned as the string)."""
        upload: UploadedFile | None = None
        if value is None or value == "":
            upload = call.files.get(field_name)
            if upload is None:
                raise _bad(f"there is no {field_name} in the request")
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value[len("attach://") :])
            if upload is None:
                raise _bad(f"wrong file identifier/HTTP URL specified: attached file {value!r} not found")
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
        elif isinstance(value, str):
            stored = self.files.get(value)
            if stored is None:
                if self.strict_file_ids:
                    raise _bad("wrong file identifier/HTTP URL specified")
                return self.register_file(value, kind=kind)
            if kind == "photo" and stored.kind != "photo":
                raise _bad(f"can't use file of type {stored.kind.capitalize()} as Photo")
            return stored
        else:
            raise _bad(f"wrong type of the {field_name} parameter")
        if not upload.data:
            raise _bad("file must be non-empty")
        mime_type = upload.content_type
        if not mime_type or mime_type == "application/octet-stream":
            mime_type = mimetypes.guess_type(upload.filename or "")[0] or mime_type
        if kind == "photo":
            width, height = image_size(upload.data) or (512, 512)
            return self._new_file("photo", upload.data, mime_type=mime_type, width=width, height=height)
        return self._new_file(kind, upload.data, file_name=upload.filename, mime_type=mime_type)

    def _photo_from(self, resolved: StoredFile | str) -> list[JSON]:
        if isinstance(resolved, str):  # a URL Telegram would download
            return self._photo_sizes(self._new_file("photo", None, width=800, height=600))
        known = self._photo_sets.get(resolved.file_id)
        if known is not None:
            return [dict(size) for size in known]
        return self._photo_sizes(resolved)

    def _file_object(self, resolved: StoredFile | str, kind: str) -> JSON:
        if isinstance(resolved, str):
            resolved = self._new_file(kind, None, file_name=resolved.rsplit("/", 1)[-1] or None)
        obj: JSON = {"file_id": resolved.file_id, "file_unique_id": resolved.file_unique_id}
        if resolved.file_name is not None:
            obj["file_name"] = resolved.file_name
        if resolved.mime_type is not None:
            obj["mime_type"] = resolved.mime_type
        if resolved.file_size is not None:
            obj["file_size"] = resolved.file_size
        if kind in ("video", "animation"):
            obj.update(width=resolved.width or 640, height=resolved.height or 360, duration=1)
        elif kind in ("audio", "voice"):
            obj["duration"] = 1
        return obj

    def _apply_caption(
        self, message: JSON, caption: str | None, entities: list[JSON], params: Mapping[str, Any]
    ) -> None:
        if caption is not None:
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
        if params.get("show_caption_above_media"):
            message["show_caption_above_media"] = True
        if params.get("has_spoiler"):
            message["has_media_spoiler"] = True

    # ---------------------------------------------------------------------------------------------------
    # Methods
    # ---------------------------------------------------------------------------------------------------

    async def _m_true(self, call: ApiCall) -> bool:
        return True

    async def _m_get_me(self, call: ApiCall) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_send_message(self, call: ApiCall) -> JSON:
        params = call.params
        chat_id = self._require_chat(params)
        text, entities = self._formatted(params, "text", "entities", caption=False)
        markup = self._markup(params)
        message = self._new_bot_message(chat_id, params, markup)
        message["text"] = text
        if entities:
            message["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            message["link_preview_options"] = params["link_preview_options"]
        return self._store_bot_message(message)

    async def _m_send_photo(self, call: ApiCall) -> JSON:
        params = call.params
        chat_id = self._require_chat(params)
        caption, entities = self._formatted(params, "caption", "caption_entities", caption=True)
        markup = self._markup(params)
        photo = self._photo_from(self._input_file(call, params.get("photo"), "photo", "photo"))
        message = self._new_bot_message(chat_id, params, markup)
        message["photo"] = photo
        self._apply_caption(message, caption, entities, params)
        return self._store_bot_message(message)

    async def _m_send_document(self, call: ApiCall) -> JSON:
        params = call.params
        kind = call.method[len("send") :].lower()  # document, video, audio, voice, animation
        chat_id = self._require_chat(params)
        caption, entities = self._formatted(params, "caption", "caption_entities", caption=True)
        markup = self._markup(params)
        resolved = self._input_file(call, params.get(kind), kind, kind)
        message = self._new_bot_message(chat_id, params, markup)
        message[kind] = self._file_object(resolved, kind)
        self._apply_caption(message, caption, entities, params)
        return self._store_bot_message(message)

    async def _m_send_media_group(self, call: ApiCall) -> list[JSON]:
        params = call.params
        chat_id = self._require_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
            raise _bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise _bad("wrong number of media in the group: must include 2-10 items")
        prepared: list[tuple[str, Any, str | None, list[JSON], JSON]] = []
        for item in media:
            kind = str(item.get("type", ""))
            if kind not in ("photo", "video", "document", "audio"):
                raise _bad(f"wrong media type {kind!r} in the media group")
            caption, entities = self._formatted(item, "caption", "caption_entities", caption=True)
            resolved = self._input_file(call, item.get("media"), "media", kind)
            content = self._photo_from(resolved) if kind == "photo" else self._file_object(resolved, kind)
            prepared.append((kind, content, caption, entities, item))
        group_id = str(13_000_000_000_000_000 + next(self._media_group_counter))
        messages = []
        for index, (kind, content, caption, entities, item) in enumerate(prepared):
            message = self._new_bot_message(chat_id, params if index == 0 else {}, None)
            message["media_group_id"] = group_id
            message[kind] = content
            self._apply_caption(message, caption, entities, item)
            messages.append(self._store_bot_message(message))
        return messages

    async def _m_send_location(self, call: ApiCall) -> JSON:
        params = call.params
        chat_id = self._require_chat(params)
        latitude, longitude = _float(params, "latitude"), _float(params, "longitude")
        if latitude is None or not -90 <= latitude <= 90:
            raise _bad("wrong latitude specified")
        if longitude is None or not -180 <= longitude <= 180:
            raise _bad("wrong longitude specified")
        markup = self._markup(params)
        message = self._new_bot_message(chat_id, params, markup)
        location: JSON = {"latitude": latitude, "longitude": longitude}
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            if params.get(key) is not None:
                location[key] = params[key]
        message["location"] = location
        return self._store_bot_message(message)

    def _source_message(self, params: Mapping[str, Any], action: str) -> JSON:
        from_chat_id = self._require_chat(params, "from_chat_id")
        message_id = _int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        source = self._history.get(from_chat_id, {}).get(message_id)
        if source is None:
            raise _bad(f"message to {action} not found")
        if not any(key in source for key in CONTENT_KEYS):
            raise _bad(f"message can't be {action}ed")
        return source

    async def _m_copy_message(self, call: ApiCall) -> JSON:
        params = call.params
        chat_id = self._require_chat(params)
        source = self._source_message(params, "copy")
        markup = self._markup(params)
        caption, entities = self._formatted(params, "caption", "caption_entities", caption=True)
        message = self._new_bot_message(chat_id, params, markup)
        message.update({key: source[key] for key in CONTENT_KEYS if key in source})
        if caption is not None and any(key in source for key in MEDIA_KEYS):
            message["caption"] = caption
            message.pop("caption_entities", None)
            if entities:
                message["caption_entities"] = entities
        self._store_bot_message(message)
        return {"message_id": message["message_id"]}

    async def _m_forward_message(self, call: ApiCall) -> JSON:
        params = call.params
        chat_id = self._require_chat(params)
        source = self._source_message(params, "forward")
        message = self._new_bot_message(chat_id, {"message_thread_id": params.get("message_thread_id")}, None)
        source_chat = source["chat"]
        origin: JSON
        if source_chat.get("type") == "channel":
            origin = {"type": "channel", "chat": source_chat, "message_id": source["message_id"]}
        elif isinstance(source.get("from"), dict):
            origin = {"type": "user", "sender_user": source["from"]}
        else:
            origin = {"type": "chat", "sender_chat": source.get("sender_chat", source_chat)}
        origin["date"] = source.get("date", message["date"])
        message["forward_origin"] = origin
        message.update({key: source[key] for key in CONTENT_KEYS if key in source})
        return self._store_bot_message(message)

    async def _m_edit_message_text(self, call: ApiCall) -> JSON | bool:
        params = call.params
        if params.get("inline_message_id"):
            self._formatted(params, "text", "entities", caption=False)
            self._markup(params)
            return True
        text, entities = self._formatted(params, "text", "entities", caption=False)
        markup = self._markup(params)
        message = self._existing_bot_message(params, action="edit")
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        updated = dict(message)
        updated["text"] = text
        self._set_or_drop(updated, "entities", entities)
        self._set_or_drop(updated, "reply_markup", markup if markup and "inline_keyboard" in markup else None)
        if all(updated.get(key) == message.get(key) for key in ("text", "entities", "reply_markup")):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        if isinstance(params.get("link_preview_options"), dict):
            updated["link_preview_options"] = params["link_preview_options"]
        updated["edit_date"] = int(time.time())
        return self._store_bot_message(updated)

    async def _m_edit_message_caption(self, call: ApiCall) -> JSON | bool:
        params = call.params
        caption, entities = self._formatted(params, "caption", "caption_entities", caption=True)
        markup = self._markup(params)
        if params.get("inline_message_id"):
            return True
        message = self._existing_bot_message(params, action="edit")
        if not any(key in message for key in MEDIA_KEYS):
            raise _bad("there is no caption in the message to edit")
        updated = dict(message)
        self._set_or_drop(updated, "caption", caption)
        self._set_or_drop(updated, "caption_entities", entities)
        self._set_or_drop(updated, "reply_markup", markup if markup and "inline_keyboard" in markup else None)
        if all(
            updated.get(key) == message.get(key) for key in ("caption", "caption_entities", "reply_markup")
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        updated["edit_date"] = int(time.time())
        return self._store_bot_message(updated)

    async def _m_edit_message_reply_markup(self, call: ApiCall) -> JSON | bool:
        params = call.params
        markup = self._markup(params)
        if params.get("inline_message_id"):
            return True
        message = self._existing_bot_message(params, action="edit")
        updated = dict(message)
        self._set_or_drop(updated, "reply_markup", markup if markup and "inline_keyboard" in markup else None)
        if updated.get("reply_markup") == message.get("reply_markup"):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        updated["edit_date"] = int(time.time())
        return self._store_bot_message(updated)

    @staticmethod
    def _set_or_drop(message: JSON, key: str, value: Any) -> None:
        if value:
            message[key] = value
        else:
            message.pop(key, None)

    async def _m_delete_message(self, call: ApiCall) -> bool:
        params = call.params
        chat_id = self._require_chat(params)
        message_id = _int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        if self._history.get(chat_id, {}).pop(message_id, None) is None:
            raise _bad("message to delete not found")
        self._bot_messages.get(chat_id, {}).pop(message_id, None)
        return True

    async def _m_delete_messages(self, call: ApiCall) -> bool:
        params = call.params
        chat_id = self._require_chat(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids must contain 1-100 message identifiers")
        for message_id in ids:
            self._history.get(chat_id, {}).pop(int(message_id), None)
            self._bot_messages.get(chat_id, {}).pop(int(message_id), None)
        return True

    async def _m_answer_callback_query(self, call: ApiCall) -> bool:
        params = call.params
        query_id = str(params.get("callback_query_id") or "")
        if self._callbacks.get(query_id, True):
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._callbacks[query_id] = True
        self.callback_answers[query_id] = dict(params)
        return True

    async def _m_get_chat(self, call: ApiCall) -> JSON:
        chat_id = self._require_chat(call.params)
        chat = dict(self._chat_obj(chat_id))
        chat.setdefault("accent_color_id", 0)
        chat.setdefault("max_reaction_count", 11)
        chat.setdefault(
            "accepted_gift_types",
            {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat

    def _bot_member(self, chat_id: int) -> JSON:
        explicit = self._members.get(chat_id, {}).get(BOT_USER_ID)
        if explicit is not None:
            return explicit
        status = "member" if self._chat_obj(chat_id)["type"] == "private" else "administrator"
        return self._member_obj(dict(self.bot_user), status)

    async def _m_get_chat_member(self, call: ApiCall) -> JSON:
        params = call.params
        chat_id = self._require_chat(params)
        user_id = _int(params, "user_id")
        if user_id is None:
            raise _bad("invalid user_id specified")
        if user_id == BOT_USER_ID:
            return self._bot_member(chat_id)
        member = self._members.get(chat_id, {}).get(user_id)
        if member is not None:
            return member
        return self._member_obj(self._user_obj(user_id), "member")

    async def _m_get_chat_administrators(self, call: ApiCall) -> list[JSON]:
        chat_id = self._require_chat(call.params)
        if self._chat_obj(chat_id)["type"] == "private":
            raise _bad("there are no administrators in the private chat")
        admins = [
            member
            for user_id, member in self._members.get(chat_id, {}).items()
            if member.get("status") in ("creator", "administrator") and user_id != BOT_USER_ID
        ]
        bot = self._bot_member(chat_id)
        if bot["status"] in ("creator", "administrator"):
            admins.append(bot)
        return admins

    async def _m_get_chat_member_count(self, call: ApiCall) -> int:
        chat_id = self._require_chat(call.params)
        members = self._members.get(chat_id, {})
        return max(2, 1 + sum(1 for m in members.values() if m.get("status") not in ("left", "kicked")))

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope_obj = scope if isinstance(scope, dict) and scope else {"type": "default"}
        return json.dumps(scope_obj, sort_keys=True), str(language_code or "")

    async def _m_set_my_commands(self, call: ApiCall) -> bool:
        params = call.params
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_NAME_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        if commands:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self._commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, call: ApiCall) -> list[JSON]:
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        return list(self._commands.get(key, []))

    async def _m_delete_my_commands(self, call: ApiCall) -> bool:
        self._commands.pop(
            self._commands_key(call.params.get("scope"), call.params.get("language_code")), None
        )
        return True

    async def _m_send_chat_action(self, call: ApiCall) -> bool:
        self._require_chat(call.params)
        if call.params.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _m_get_file(self, call: ApiCall) -> JSON:
        file_id = str(call.params.get("file_id") or "")
        stored = self.files.get(file_id)
        if stored is None:
            raise _bad("invalid file_id")
        result: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_size is not None:
            result["file_size"] = stored.file_size
        result["file_path"] = stored.file_path
        return result


_SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendAnimation",
        "sendMediaGroup",
        "sendLocation",
        "copyMessage",
        "forwardMessage",
    }
)
