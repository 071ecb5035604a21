"""A lane's run of tagged messages is filed at once, on SQLite and PostgreSQL: one classifier call, one
transaction storing the complaints, duplicates in the run merged as one by one, a redelivered run changing
nothing, an edit of a message in the run starting a new run, and a poison message parked alone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.engine import Connection

from bot.app.resources import Resources, sync_directory
from bot.app.runtime import ShagymBot
from bot.classifier.base import Classification, MessageContext
from bot.classifier.keyword_engine import KeywordClassifier
from bot.config import Config, load_config
from storage import migrate
from storage.db import create_engine, create_session_factory
from storage.models import ComplaintEventRow, ComplaintRow, InboxRow
from tests.conftest import EXAMPLE_CONFIG
from tests.support import InMemoryQueue, RecordingGateway

CITY_CHAT = -1001999000111
TAG = "@akim_astana"
POISON = "POISON"


class CountingClassifier:
    """The keyword classifier with a batch method; records each call, and fails on a poison text."""

    def __init__(self, config: Config) -> None:
        self._inner = KeywordClassifier(config)
        self.batches: list[int] = []  # the size of each classify_many call
        self.single = 0  # classify calls from outside a batch

    def _verdict(self, text: str, context: MessageContext | None) -> Classification:
        if POISON in text:
            raise RuntimeError("the classifier chokes on this text")
        return self._inner.classify(text, context)

    def classify(self, text: str, context: MessageContext | None = None) -> Classification:
        self.single += 1
        return self._verdict(text, context)

    def classify_many(self, items: Sequence[tuple[str, MessageContext | None]]) -> list[Classification]:
        self.batches.append(len(items))
        return [self._verdict(text, context) for text, context in items]


@dataclass
class Transactions:
    """The statements of each finished transaction, in order (counted with SQLAlchemy events)."""

    done: list[list[str]] = field(default_factory=list)
    current: list[str] = field(default_factory=list)

    def writing(self, table: str) -> list[list[str]]:
        return [t for t in self.done if any(s.startswith(f"INSERT INTO {table} ") for s in t)]


@dataclass
class Rig:
    bot: ShagymBot
    classifier: CountingClassifier
    queue: InMemoryQueue
    gateway: RecordingGateway
    resources: Resources
    next_update: int = 1

    def update(self, text: str, *, message_id: int, edited: bool = False) -> dict[str, Any]:
        body = f"{TAG} {text}"
        self.next_update += 1
        return {
            "update_id": self.next_update,
            "edited_message" if edited else "message": {
                "message_id": message_id,
                "date": 1_700_000_000,
                "chat": {"id": CITY_CHAT, "type": "supergroup", "title": "Астана чат"},
                "from": {"id": 555 + message_id % 3, "is_bot": False, "first_name": "Айгерим"},
                "text": body,
                "entities": [{"type": "mention", "offset": 0, "length": len(TAG)}],
            },
        }

    async def feed(self, *updates: dict[str, Any]) -> None:
        await self.bot.ingestor.ingest(list(updates))
        await self.drain()

    async def drain(self) -> None:
        while await self.bot.processor.run_once():
            pass

    async def complaints(self) -> list[ComplaintRow]:
        async with self.resources.unit_of_work() as uow:
            return list((await uow.session.scalars(select(ComplaintRow).order_by(ComplaintRow.id))).all())

    async def inbox(self) -> list[InboxRow]:
        async with self.resources.unit_of_work() as uow:
            return list((await uow.session.scalars(select(InboxRow).order_by(InboxRow.id))).all())

    async def events(self) -> int:
        async with self.resources.unit_of_work() as uow:
            return int(await uow.session.scalar(select(func.count()).select_from(ComplaintEventRow)) or 0)

    def queued(self) -> int:
        return sum(len(items) for items in self.queue._items.values())

    @contextmanager
    def transactions(self) -> Iterator[Transactions]:
        seen = Transactions()
        engine = self.resources.engine.sync_engine

        def statement(conn: Connection, cursor: Any, sql: str, *args: Any) -> None:
            seen.current.append(" ".join(sql.split()))

        def finished(conn: Connection) -> None:
            if seen.current:
                seen.done.append(seen.current)
            seen.current = []

        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", finished)
        event.listen(engine, "rollback", finished)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", statement)
            event.remove(engine, "commit", finished)
            event.remove(engine, "rollback", finished)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    base = load_config(EXAMPLE_CONFIG, environ={})
    config = Config.model_validate(
        base.model_dump(by_alias=True)
        | {
            "classifier": {"engine": "keywords"},
            "watch": {"chats": "all", "acknowledge_chats": [CITY_CHAT], "acknowledge_interval_seconds": 0},
            "telegram": base.telegram.model_dump()
            | {
                "token": "1:x",
                "rate_limit": {
                    "per_chat_per_second": 1000,
                    "per_group_per_minute": 1000,
                    "global_per_second": 1000,
                },
            },
        }
    )
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    queue = InMemoryQueue()
    resources = Resources(config, engine, create_session_factory(engine), queue, None)  # type: ignore[arg-type]
    await sync_directory(resources)
    gateway = RecordingGateway()
    classifier = CountingClassifier(config)
    try:
        yield Rig(ShagymBot(resources, gateway, classifier), classifier, queue, gateway, resources)
    finally:
        await engine.dispose()


def heating(house: int) -> str:
    return f"третий день нет отопления в доме {house} по улице Кенесары, батареи холодные"


async def test_a_run_is_classified_in_one_call_and_stored_in_one_transaction(rig: Rig) -> None:
    count = 6
    await rig.bot.ingestor.ingest([rig.update(heating(n), message_id=n) for n in range(1, count + 1)])
    with rig.transactions() as seen:
        assert await rig.bot.processor.run_once() == count
    assert rig.classifier.batches == [count] and rig.classifier.single == 0
    # the claim, the run's complaints, marking them queued, marking the rows processed
    assert len(seen.done) == 4
    (storing,) = seen.writing("complaints")
    assert sum(s.startswith("INSERT INTO complaint_events ") for s in storing) >= 1
    complaints = await rig.complaints()
    assert [c.message_id for c in complaints] == list(range(1, count + 1))
    assert {c.status for c in complaints} == {"queued"} and rig.queued() == count
    assert {row.status for row in await rig.inbox()} == {"processed"}
    # each new complaint is acknowledged in the source chat, as a reply to its message
    assert sorted(call.params["reply_to"] for call in rig.gateway.sent_to(CITY_CHAT)) == list(range(1, 7))


def _shape(complaints: list[ComplaintRow]) -> list[tuple[str, int | None, int]]:
    """Each complaint's status, the position of its original in the list, and its count of repeats."""
    ids = [c.id for c in complaints]
    return [
        (c.status, ids.index(c.duplicate_of_id) if c.duplicate_of_id else None, c.duplicate_count)
        for c in complaints
    ]


async def test_duplicates_within_a_run_merge_as_one_by_one(rig: Rig) -> None:
    texts = [
        heating(5),
        heating(5) + " уже неделю",
        "на улице Кенесары 40 огромная яма на дороге",
        heating(9),
    ]
    for n, text in enumerate(texts, start=1):  # one by one: each message a run of its own
        await rig.feed(rig.update(text, message_id=n))
    assert rig.classifier.batches == [] and rig.classifier.single == len(texts)
    sequential = _shape(await rig.complaints())
    assert sequential == [("queued", None, 1), ("duplicate", 0, 0), ("queued", None, 0), ("queued", None, 0)]
    # closed, they are no originals for the same messages again, now as one run
    async with rig.resources.unit_of_work() as uow:
        await uow.session.execute(update(ComplaintRow).values(status="resolved"))
        await uow.commit()
    queued = rig.queued()
    await rig.feed(*(rig.update(text, message_id=10 + n) for n, text in enumerate(texts, start=1)))
    assert rig.classifier.batches == [len(texts)]
    assert _shape([c for c in await rig.complaints() if c.message_id > 10]) == sequential
    # the original's card is queued once for the run, not once more for its merge
    assert rig.queued() - queued == 3


async def test_a_redelivered_run_changes_nothing(rig: Rig) -> None:
    await rig.feed(*(rig.update(heating(n), message_id=n) for n in range(1, 5)))
    before = ([(c.id, c.status, c.text) for c in await rig.complaints()], await rig.events(), rig.queued())
    # a crash after the run was stored and before its rows were marked: the rows are handled again
    async with rig.resources.unit_of_work() as uow:
        await uow.session.execute(update(InboxRow).values(status="pending"))
        await uow.commit()
    await rig.drain()
    # and Telegram sends the same messages again under new update ids
    await rig.feed(*(rig.update(heating(n), message_id=n) for n in range(1, 5)))
    assert rig.classifier.batches == [4, 4, 4]
    after = ([(c.id, c.status, c.text) for c in await rig.complaints()], await rig.events(), rig.queued())
    assert after == before
    assert {row.status for row in await rig.inbox()} == {"processed"}


async def test_an_edit_of_a_message_in_the_run_starts_a_new_run(rig: Rig) -> None:
    await rig.bot.ingestor.ingest(
        [
            rig.update(heating(1), message_id=1),
            rig.update(heating(2), message_id=2),
            rig.update(heating(1) + ", и горячей воды тоже нет", message_id=1, edited=True),
            rig.update(heating(3), message_id=3),
        ]
    )
    await rig.drain()
    assert rig.classifier.batches == [2, 2]
    complaints = await rig.complaints()
    assert [c.message_id for c in complaints] == [1, 2, 3]
    assert complaints[0].text.endswith("и горячей воды тоже нет")


async def test_a_poison_message_in_a_run_is_parked_and_the_others_are_filed(rig: Rig) -> None:
    texts = [heating(1), heating(2), f"{POISON} {heating(3)}", heating(4)]
    await rig.feed(*(rig.update(text, message_id=n) for n, text in enumerate(texts, start=1)))
    assert [c.message_id for c in await rig.complaints()] == [1, 2, 4]
    rows = await rig.inbox()
    assert [row.status for row in rows] == ["processed", "processed", "failed", "processed"]
    assert rows[2].attempts == 5 and "RuntimeError" in (rows[2].error or "")
