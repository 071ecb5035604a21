"""Hostile updates that pass the ingress: the real InboxProcessor and handlers never crash or lose a row.

Each example writes a batch of hostile-but-plausible updates through the real ingress into the inbox of a
fully wired bot (ShagymBot on SQLite or PostgreSQL, the trained classifier, the SQL queue, a recording
gateway), then works the inbox and the department queues to the end. Every stored row must end
`processed` or parked `failed` with an error text and a log line naming it; nothing stays pending, nothing
kept by the ingress is missing from the inbox, nothing else is stored.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app.resources import Resources, sync_directory
from bot.app.runtime import ShagymBot
from bot.classifier import build_classifier
from bot.config import Config, load_config
from bot.core.mentions import MentionDetector
from bot.ingress.receiver import UpdateIngestor
from storage import migrate
from storage.db import create_engine, create_session_factory
from storage.models import ComplaintRow, InboxRow
from storage.queues import SqlDepartmentQueue
from tests.conftest import EXAMPLE_CONFIG
from tests.support import RecordingGateway
from tests.unit.test_classifier import trained_cache_dir

CITY_CHAT = -1001999000111
UTILITIES_CHAT = -1001000000001
STAFF = 200001
ADMIN = 900001
AKIM = 100001
RESIDENT = 700001
BOT_ID = 999000
INT64_MAX = 2**63 - 1

# --- strategies -------------------------------------------------------------------------------------------

# Finite floats and int64 integers: JSON from Telegram has no Infinity, and ids fit in 64 bits (what the
# ingress itself does with such payloads is left to tests/unit/test_hostile_updates.py).
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
huge_text = st.sampled_from(
    [
        "нет воды " * 12_000,  # 108k characters
        "🔥" * 50_000,  # 100k UTF-16 units
        "Жарық жоқ! " * 10_000,
        "a" * 100_000,
    ]
)
texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "третий день нет отопления в Сарыарке, батареи холодные",
            "Көшеде жарық жоқ, қараңғы, балалар қорқады",
            "huge pothole on Kenesary 17, my car is broken",
            "спасибо за новый парк!",
            "газом пахнет в подъезде!!! срочно",
            "",
            "   ",
            "нет\x00воды",
            "\u200b\u200d\ufeff",
            "🔥🔥🔥 👨‍👩‍👧‍👦",
        ]
    ),
    huge_text,
)
wild_ints = st.one_of(
    st.integers(min_value=-10, max_value=10**7),
    st.integers(min_value=INT64_MAX - 2, max_value=INT64_MAX),
    st.integers(min_value=-INT64_MAX - 1, max_value=-INT64_MAX + 2),
)


def _maybe_wrong(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The real value most of the time, else any JSON value in its place (a wrong type)."""
    return st.one_of(strategy, strategy, json_values)


entity = st.fixed_dictionaries(
    {
        "type": _maybe_wrong(
            st.sampled_from(["mention", "text_mention", "url", "email", "bold", "bot_command", "hashtag"])
        ),
        "offset": _maybe_wrong(wild_ints),
        "length": _maybe_wrong(wild_ints),
    },
    optional={
        "user": _maybe_wrong(st.fixed_dictionaries({"id": _maybe_wrong(st.sampled_from([AKIM, 5, -1]))})),
        "url": json_values,
    },
)
long_names = st.sampled_from(["x" * 300, "Айгерим " * 80, "🔥" * 200, "a\x00b"])
user = st.fixed_dictionaries(
    {"id": _maybe_wrong(st.sampled_from([RESIDENT, RESIDENT + 1, STAFF, ADMIN, AKIM]))},
    optional={
        "is_bot": _maybe_wrong(st.booleans()),
        "first_name": _maybe_wrong(st.one_of(st.text(max_size=30), long_names)),
        "last_name": _maybe_wrong(st.one_of(st.text(max_size=30), long_names)),
        "username": _maybe_wrong(st.one_of(st.text(max_size=20), long_names)),
        "language_code": _maybe_wrong(st.sampled_from(["ru", "kk", "en", "de", "x" * 40, "", "kk-KZ"])),
    },
)
photo_size = st.fixed_dictionaries(
    {"file_id": _maybe_wrong(st.one_of(st.text(min_size=1, max_size=40), st.just("F" * 5000)))},
    optional={"width": json_values, "height": json_values, "file_size": json_values},
)
location = st.fixed_dictionaries(
    {"latitude": _maybe_wrong(st.floats(-90, 90)), "longitude": _maybe_wrong(st.floats(-180, 180))}
)
reply_to = st.fixed_dictionaries(
    {"message_id": _maybe_wrong(st.integers(1, 10**6))},
    optional={
        "from": _maybe_wrong(
            st.fixed_dictionaries(
                {"id": _maybe_wrong(st.sampled_from([AKIM, BOT_ID, 5]))},
                optional={"username": _maybe_wrong(st.sampled_from(["akim_astana", "AKIM_ASTANA", "x"]))},
            )
        ),
        "text": json_values,
    },
)


@st.composite
def message_body(draw: st.DrawFn, chat: dict[str, Any], text: str) -> dict[str, Any]:
    """A message in `chat` whose text (or caption) is `text`, with hostile optional parts."""
    body: dict[str, Any] = {
        "message_id": draw(st.one_of(st.integers(1, 200), st.integers(1, INT64_MAX))),
        "chat": chat,
        "date": draw(_maybe_wrong(st.integers(0, 2**31))),
    }
    as_caption = draw(st.booleans())
    body["caption" if as_caption else "text"] = text
    if draw(st.booleans()):
        body["caption_entities" if as_caption else "entities"] = draw(
            _maybe_wrong(st.lists(_maybe_wrong(entity), max_size=4))
        )
    optional = {
        "from": _maybe_wrong(user),
        "photo": _maybe_wrong(st.lists(_maybe_wrong(photo_size), max_size=3)),
        "location": _maybe_wrong(location),
        "reply_to_message": _maybe_wrong(reply_to),
        "media_group_id": json_values,
        "message_thread_id": json_values,
        "contact": json_values,
        "sticker": json_values,
        "sender_chat": json_values,
    }
    for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=4)):
        body[key] = draw(optional[key])
    return body


group_chat = st.fixed_dictionaries(
    {
        "id": st.sampled_from([CITY_CHAT, CITY_CHAT - 1, -4_000_000_001]),
        "type": st.sampled_from(["supergroup", "group", "channel", "x" * 40]),
    },
    optional={
        "title": _maybe_wrong(st.one_of(st.text(max_size=30), long_names)),
        "username": _maybe_wrong(st.one_of(st.sampled_from(["astana_chat", "A" * 100]), long_names)),
    },
)
# ingress keeps a group message only when it tags an official: each of these does, in its own way
tags = st.sampled_from(["@akim_astana", "@AKIM_ASTANA", "Касымбеку", "Қасымбекке", "аким Астаны"])


@st.composite
def tagged_update(draw: st.DrawFn) -> dict[str, Any]:
    """A message, edit or channel post in a watched chat that tags an official, hostile everywhere else."""
    text = draw(texts)
    text = draw(st.sampled_from([f"{draw(tags)} {text}", f"{text} {draw(tags)}", f"{text}{draw(tags)}"]))
    kind = draw(st.sampled_from(["message", "edited_message", "channel_post", "edited_channel_post"]))
    return {kind: draw(message_body(draw(group_chat), text))}


commands = st.sampled_from(
    [
        "/start",
        "/start@shagym_test_bot deep-link",
        "/my",
        "/status",
        "/status 1",
        "/status №2",
        "/status ²",
        "/status ١٢",
        "/status 99999999999999999999999999",
        "/status 9223372036854775808",
        "/status -1",
        "/cancel",
        "/language",
        "/block 5",
        "/block --5",
        "/block ²",
        "/block 99999999999999999999999999",
        "/unblock -",
        "/unblock 700001",
        "/digest",
        "/DIGEST@shagym_test_bot",
        "/",
        "/@",
    ]
)


@st.composite
def private_update(draw: st.DrawFn) -> dict[str, Any]:
    """A private message with commands, odd content, and nested wrong types."""
    sender = draw(st.sampled_from([RESIDENT, RESIDENT + 1, ADMIN, AKIM, STAFF]))
    chat = {"id": sender, "type": "private"}
    body = draw(message_body(chat, draw(st.one_of(commands, texts))))
    if "from" not in body or draw(st.booleans()):
        body["from"] = {"id": sender, "is_bot": False, "first_name": "Айгерим", "language_code": "kk"}
    extra = draw(
        st.sampled_from(
            [
                {},
                {"sticker": {"file_id": "S1"}},
                {"voice": {"file_id": "V1", "duration": "long"}},
                {"contact": {"phone_number": draw(st.text(max_size=60)), "user_id": sender}},
                {"contact": {"phone_number": "+7 701 000 0000", "user_id": 5}},
                {"contact": {"phone_number": ["+7"], "user_id": "x"}},
                {"location": {"latitude": 51.1, "longitude": 71.4}},
                {"location": {"latitude": 51.1, "longitude": "east"}},
                {"location": {"latitude": 1e308, "longitude": -1e308}},
                {"photo": [{"file_id": "P1", "width": "w", "height": None}]},
                {"document": {"file_id": "D1"}},
            ]
        )
    )
    body.update(extra)
    return {draw(st.sampled_from(["message", "edited_message"])): body}


callback_parts = st.sampled_from(
    [
        *("d", "r", "lang", "take", "resolve", "rnc", "reject", "back", "reroute", "to", "cat", "dup"),
        *("nc", "fix", "y", "n", "send", "cancel", "set", "edit", "ru", "kk", "en", "xx"),
        *("1", "2", "3", "0", "-1", "²", "١٢", "", " ", "99999999999999999999", "9223372036854775808"),
    ]
)
callback_data = st.one_of(
    st.text(max_size=64),
    st.lists(callback_parts, min_size=1, max_size=5).map(":".join),
    json_values,  # wrong type: the parser treats it as empty data
)


@st.composite
def callback_update(draw: st.DrawFn) -> dict[str, Any]:
    """A button press with garbage data, from staff or strangers, on cards or private messages."""
    query: dict[str, Any] = {
        "id": draw(st.text(min_size=1, max_size=20)),
        "from": draw(
            st.one_of(
                st.fixed_dictionaries({"id": st.sampled_from([STAFF, RESIDENT, ADMIN, 5])}),
                user,
            )
        ),
        "data": draw(callback_data),
    }
    if draw(st.booleans()):
        query["message"] = draw(
            _maybe_wrong(
                st.fixed_dictionaries(
                    {
                        "message_id": _maybe_wrong(st.integers(1, 50)),
                        "chat": _maybe_wrong(
                            st.fixed_dictionaries(
                                {"id": st.sampled_from([UTILITIES_CHAT, RESIDENT, CITY_CHAT, 5])}
                            )
                        ),
                    }
                )
            )
        )
    return {"callback_query": query}


@st.composite
def staff_reply_update(draw: st.DrawFn) -> dict[str, Any]:
    """A reply in a department chat (maybe the comment of a resolution), hostile inside."""
    chat = {"id": UTILITIES_CHAT, "type": "supergroup", "title": "ЖКХ"}
    body = draw(message_body(chat, draw(texts)))
    body["reply_to_message"] = {"message_id": draw(st.integers(1, 50)), "from": {"id": BOT_ID}}
    body["from"] = draw(st.one_of(st.just({"id": STAFF, "first_name": "Ерлан"}), user))
    return {draw(st.sampled_from(["message", "edited_message"])): body}


membership_chat = st.fixed_dictionaries(
    {"id": _maybe_wrong(wild_ints), "type": _maybe_wrong(st.sampled_from(["group", "private", "x" * 40]))},
    optional={"title": _maybe_wrong(long_names), "username": _maybe_wrong(long_names)},
)
membership_update = st.fixed_dictionaries(
    {
        "my_chat_member": _maybe_wrong(
            st.fixed_dictionaries({"chat": _maybe_wrong(membership_chat), "new_chat_member": json_values})
        )
    }
)
# shapes the ingress keeps as `malformed`: the processor parks them at once
malformed_update = st.sampled_from(
    [
        {"message": {"chat": "nope", "text": "@akim_astana"}},
        {"message": {"message_id": "1", "chat": {"id": CITY_CHAT, "type": "group"}}},
        {"callback_query": {"id": 5, "from": {"id": 1}}},
        {"edited_message": None},
    ]
)
hostile_update = st.one_of(
    tagged_update(),
    private_update(),
    callback_update(),
    staff_reply_update(),
    membership_update,
    malformed_update,
)


# --- the bot under test -----------------------------------------------------------------------------------


@dataclass
class Bot:
    bot: ShagymBot
    resources: Resources
    gateway: RecordingGateway
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def run_inbox(self) -> None:
        # a failing row is retried until it is parked: bounded by batch size × attempts
        for _ in range(1000):
            if not await self.bot.processor.run_once():
                return
        raise AssertionError("the inbox never drained")

    async def run_queues(self) -> None:
        for _ in range(1000):
            if not sum([await worker.run_once() for worker in self.bot.workers]):
                return
        raise AssertionError("the department queues never drained")

    async def inbox(self, update_ids: set[int]) -> list[InboxRow]:
        async with self.resources.unit_of_work() as uow:
            rows = await uow.session.scalars(select(InboxRow).where(InboxRow.update_id.in_(update_ids)))
            return list(rows.all())


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained model, shared with the classifier tests (trained once per session)."""
    return trained_cache_dir(tmp_path_factory)


@pytest.fixture
async def wired_bot(database_url: str, model_cache: Path) -> AsyncIterator[Bot]:
    """ShagymBot as `shagym run` wires it, on a fresh database, with a recording gateway."""
    base = load_config(EXAMPLE_CONFIG, environ={})
    config = Config.model_validate(
        base.model_dump(by_alias=True)
        | {
            "watch": {"chats": "all", "acknowledge_chats": [CITY_CHAT], "acknowledge_interval_seconds": 0},
            "telegram": base.telegram.model_dump()
            | {
                "token": "1:x",
                "rate_limit": {
                    "per_chat_per_second": 10**6,
                    "per_group_per_minute": 10**6,
                    "global_per_second": 10**6,
                },
            },
        }
    )
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    session_factory = create_session_factory(engine)
    queue = SqlDepartmentQueue(session_factory, lease_seconds=60)
    resources = Resources(config, engine, session_factory, queue, None)
    await sync_directory(resources)
    classifier = build_classifier(config, cache_dir=model_cache)
    gateway = RecordingGateway(admins={UTILITIES_CHAT: [STAFF]})
    try:
        yield Bot(ShagymBot(resources, gateway, classifier), resources, gateway)
    finally:
        await engine.dispose()


def _logged_row(caplog: pytest.LogCaptureFixture, row_id: int) -> bool:
    pattern = re.compile(rf"\binbox row {row_id}\b")
    return any(pattern.search(record.getMessage()) for record in caplog.records)


# Function-scoped fixtures are shared by the examples on purpose: one database per test keeps it fast, and
# each example works only with the update ids it drew from the shared counter.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(hostile_update, min_size=1, max_size=4), redeliver=st.booleans())
async def test_hostile_updates_are_processed_or_parked_never_lost(
    batch: list[dict[str, Any]], redeliver: bool, wired_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for update in batch:
        update["update_id"] = next(wired_bot.update_ids)
    # what the ingress keeps, decided by a twin that stores nothing
    twin = UpdateIngestor(
        wired_bot.bot.config,
        MentionDetector(wired_bot.bot.config.officials),
        uow_factory=None,  # type: ignore[arg-type]
    )
    kept = {update["update_id"] for update in batch if twin.select(update) is not None}
    sent = batch + batch[:1] if redeliver else batch  # Telegram may send an update twice

    await wired_bot.bot.ingestor.ingest(sent)
    stored = await wired_bot.inbox({update["update_id"] for update in batch})
    assert {row.update_id for row in stored} == kept  # nothing kept is missing, nothing else is stored
    assert len(stored) == len(kept)  # a redelivery is stored once

    await wired_bot.run_inbox()
    await wired_bot.run_queues()

    for row in await wired_bot.inbox(kept):
        assert row.status in ("processed", "failed"), (row.id, row.kind, row.status, row.error)
        if row.status == "failed":
            assert row.error, row.id
            assert _logged_row(caplog, row.id), f"no log line names failed inbox row {row.id}"


async def _feed(wired_bot: Bot, *bodies: dict[str, Any]) -> list[InboxRow]:
    updates = [{"update_id": next(wired_bot.update_ids), **body} for body in bodies]
    await wired_bot.bot.ingestor.ingest(updates)
    await wired_bot.run_inbox()
    await wired_bot.run_queues()
    return await wired_bot.inbox({u["update_id"] for u in updates})


async def _complaints(wired_bot: Bot) -> list[ComplaintRow]:
    async with wired_bot.resources.unit_of_work() as uow:
        return list((await uow.session.scalars(select(ComplaintRow).order_by(ComplaintRow.id))).all())


def _hostile_tagged_message(message_id: int) -> dict[str, Any]:
    text = "🔥 @akim_astana третий день нет отопления в Сарыарке,\x00 батареи холодные"
    return {
        "message": {
            "message_id": message_id,
            "date": 1_700_000_000,
            "chat": {"id": CITY_CHAT, "type": "supergroup" * 4, "title": "Ч" * 500, "username": "u" * 100},
            "from": {"id": RESIDENT, "first_name": "А" * 300, "username": ["x"], "language_code": "x" * 40},
            "text": text,
            "entities": [
                {"type": "mention", "offset": 10**6, "length": 12},
                {"type": "mention", "offset": 3, "length": -4},
                {"type": 5, "offset": 3, "length": 12},
                {"type": "text_mention", "offset": 500, "length": 10**6, "user": {"id": "akim"}},
            ],
            "photo": [{"file_id": "P1", "width": "w"}, "garbage"],
            "location": {"latitude": 51.1, "longitude": "east"},
        }
    }


async def test_a_complaint_with_unstorable_parts_is_filed_and_carded(wired_bot: Bot) -> None:
    (row,) = await _feed(wired_bot, _hostile_tagged_message(10))
    assert (row.status, row.error) == ("processed", None)
    (complaint,) = await _complaints(wired_bot)
    assert complaint.category == "heating" and complaint.officials == ["akim"]
    assert "\x00" not in complaint.text and complaint.photos == ["P1"] and complaint.latitude is None
    assert complaint.author_name == "А" * 64  # cut to Telegram's limit for a name
    (card,) = wired_bot.gateway.sent_to(UTILITIES_CHAT)
    assert card.method == "sendPhoto" and "№1" in card.params["caption"]


async def test_a_huge_tagged_text_makes_one_card_within_telegram_limits(wired_bot: Bot) -> None:
    text = "@akim_astana " + "нет горячей воды, " * 6_000  # 108k characters
    message = {"message_id": 11, "date": 0, "chat": {"id": CITY_CHAT, "type": "supergroup"}, "text": text}
    rows = await _feed(wired_bot, {"message": message}, {"edited_message": message | {"text": text + "!"}})
    assert [row.status for row in rows] == ["processed", "processed"]
    (complaint,) = await _complaints(wired_bot)
    assert complaint.text == text + "!"
    cards = wired_bot.gateway.sent_to(UTILITIES_CHAT)
    assert [c.method for c in cards] == ["sendMessage", "editMessageText"]
    assert all(len(c.params["text"].encode("utf-16-le")) // 2 <= 4096 for c in cards)


async def test_numbers_no_database_can_hold_get_a_usage_answer(wired_bot: Bot) -> None:
    def private(text: str, sender: int = RESIDENT) -> dict[str, Any]:
        chat = {"id": sender, "type": "private"}
        return {"message": {"message_id": 1, "date": 0, "chat": chat, "from": {"id": sender}, "text": text}}

    def press(data: str) -> dict[str, Any]:
        return {"callback_query": {"id": "q", "from": {"id": RESIDENT}, "data": data}}

    rows = await _feed(
        wired_bot,
        private("/status ²"),
        private("/status 99999999999999999999999999"),
        private("/block --5", ADMIN),
        private("/block 99999999999999999999999999", ADMIN),
        press("r:fix:²"),
        press("r:fix:99999999999999999999999999:y"),
        press("r:set:²:1"),
        press("r:send:99999999999999999999999999"),
    )
    assert [(row.status, row.error) for row in rows] == [("processed", None)] * 8
    answers = [c.params["text"] for c in wired_bot.gateway.calls if c.method == "sendMessage"]
    assert len(answers) == 4 and all(answers)


async def test_a_membership_change_with_wrong_types_is_processed(wired_bot: Bot) -> None:
    change = {
        "chat": {"id": -1001555, "type": "group", "title": ["list"], "username": 5},
        "new_chat_member": 1,
    }
    (row,) = await _feed(wired_bot, {"my_chat_member": change})
    assert (row.status, row.error) == ("processed", None)
    async with wired_bot.resources.unit_of_work() as uow:
        chat = next(c for c in await uow.chats.list() if c.id == -1001555)
    assert (chat.type, chat.title, chat.username) == ("group", None, None)


async def test_values_no_database_column_takes_do_not_fail_the_batch(wired_bot: Bot) -> None:
    hostile = _hostile_tagged_message(20)
    hostile["message"]["extra"] = {"score": float("inf"), "nan": float("nan"), "half": "\ud800 surrogate"}
    plain = {
        "message": {
            "message_id": 21,
            "date": 1_700_000_000,
            "chat": {"id": CITY_CHAT, "type": "supergroup"},
            "from": {"id": RESIDENT, "first_name": "Аян"},
            "text": "@akim_astana яма на дороге у дома 5",
            "entities": [{"type": "mention", "offset": 0, "length": 12}],
        }
    }
    unkeyed = {"update_id": 2**70, "message": "not a message"}
    await wired_bot.bot.ingestor.ingest([unkeyed])  # nothing to key it on: logged and left out
    rows = await _feed(wired_bot, hostile, plain)
    assert sorted(row.status for row in rows) == ["processed", "processed"]
    stored = next(row for row in rows if row.message_id == 20)
    assert stored.payload["message"]["extra"] == {"score": None, "nan": None, "half": "\ufffd surrogate"}
    assert len(await _complaints(wired_bot)) == 2
