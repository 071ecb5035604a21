"""The repository suite, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config, WatchConfig
from bot.core.domain import ComplaintSource, ComplaintStatus, InvalidTransition
from storage.models import ComplaintRow
from storage.repositories import InboxItem
from storage.uow import UnitOfWork


def complaint(chat_id: int = -1001, message_id: int = 1, **overrides: object) -> ComplaintRow:
    values: dict[str, object] = {
        "source": ComplaintSource.GROUP.value,
        "chat_id": chat_id,
        "message_id": message_id,
        "text": "@akim_astana третий день нет отопления 🥶",
        "language": "ru",
        "category": "heating",
        "department_id": "utilities",
        "urgent": True,
        "district": "saryarka",
        "confidence": 0.91,
        "officials": ["akim"],
    }
    values.update(overrides)
    return ComplaintRow(**values)


async def test_directory_sync_mirrors_config(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    async with UnitOfWork(session_factory) as uow:
        await uow.directory.sync_officials(example_config.officials)
        await uow.directory.sync_departments(example_config.departments)
        await uow.commit()
    fewer = example_config.departments[:3]
    async with UnitOfWork(session_factory) as uow:
        await uow.directory.sync_departments(fewer)
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        officials = await uow.directory.officials()
        active = await uow.directory.departments()
        everything = await uow.directory.departments(active_only=False)
    assert {o.id for o in officials} == {o.id for o in example_config.officials}
    akim = next(o for o in officials if o.id == "akim")
    assert akim.usernames == ["akim_astana"]
    assert akim.digest_schedule == "0 9 * * *"
    assert {d.id for d in active} == {d.id for d in fewer}
    assert len(everything) == len(example_config.departments)


async def test_watch_sync_marks_configured_chats(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(session_factory) as uow:
        await uow.chats.upsert_seen(-1002, type="supergroup", title="Сарыарка чат", username="saryarka_chat")
        await uow.chats.sync_watch(WatchConfig(chats=[-1001, -1003], acknowledge_chats=[-1001]))
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        chats = {chat.id: chat for chat in await uow.chats.list()}
    assert chats[-1001].watched and chats[-1001].acknowledge
    assert chats[-1003].watched and not chats[-1003].acknowledge
    assert not chats[-1002].watched
    assert chats[-1002].username == "saryarka_chat"


async def test_inbox_is_idempotent_on_update_id(session_factory: async_sessionmaker[AsyncSession]) -> None:
    items = [
        InboxItem(update_id=10, kind="message", chat_id=-1001, message_id=5, payload={"update_id": 10}),
        InboxItem(update_id=11, kind="message", chat_id=-1001, message_id=6, payload={"update_id": 11}),
    ]
    async with UnitOfWork(session_factory) as uow:
        first = await uow.inbox.add_many(items)
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        again = await uow.inbox.add_many([*items, InboxItem(update_id=12, kind="callback_query", payload={})])
        await uow.commit()
    assert len(first) == 2
    assert len(again) == 1
    async with UnitOfWork(session_factory) as uow:
        pending = await uow.inbox.pending()
        assert [row.update_id for row in pending] == [10, 11, 12]
        assert pending[0].payload == {"update_id": 10}
        await uow.inbox.mark_processed(pending[0].id)
        for _ in range(3):
            await uow.inbox.record_failure(pending[1].id, "boom", max_attempts=3)
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        assert [row.update_id for row in await uow.inbox.pending()] == [12]
        assert await uow.inbox.counts() == {"processed": 1, "failed": 1, "pending": 1}


async def test_uncommitted_work_is_rolled_back(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(session_factory) as uow:
        await uow.inbox.add_many([InboxItem(update_id=1, kind="message", payload={})])
    async with UnitOfWork(session_factory) as uow:
        assert await uow.inbox.pending() == []


async def test_complaint_lifecycle_with_audit_log(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(session_factory) as uow:
        resident = await uow.residents.get_or_create(
            555, username="aigerim", full_name="Айгерим", language="kk"
        )
        row = await uow.complaints.add(complaint(resident_id=resident.id))
        await uow.commit()
        number = row.id
    async with UnitOfWork(session_factory) as uow:
        row = await uow.complaints.by_source(-1001, 1)
        assert row is not None and row.id == number
        assert row.status == ComplaintStatus.NEW.value
        assert row.created_at.tzinfo is not None
        for target in (ComplaintStatus.QUEUED, ComplaintStatus.DELIVERED, ComplaintStatus.IN_PROGRESS):
            await uow.complaints.change_status(row, target, actor="staff", actor_user_id=200001)
        await uow.complaints.change_status(
            row,
            ComplaintStatus.RESOLVED,
            actor="staff",
            actor_user_id=200001,
            details={"comment": "Починили"},
        )
        with pytest.raises(InvalidTransition):
            await uow.complaints.change_status(row, ComplaintStatus.IN_PROGRESS, actor="staff")
        await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="resident", action="reopened")
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        row = await uow.complaints.get(number)
        assert row is not None
        assert row.status == "queued"
        assert row.reopen_count == 1
        assert row.resolved_at is None
        events = await uow.complaints.events(number)
        assert [e.action for e in events] == [
            "created", "queued", "delivered", "in_progress", "resolved", "reopened",
        ]  # fmt: skip
        assert events[4].details == {"comment": "Починили"}
        assert events[4].actor_user_id == 200001
        mine = await uow.complaints.for_resident(row.resident_id or 0)
        assert [c.id for c in mine] == [number]
        assert await uow.complaints.count_by_status() == {"queued": 1}


async def test_one_complaint_per_source_message(session_factory: async_sessionmaker[AsyncSession]) -> None:
    from sqlalchemy.exc import IntegrityError

    async with UnitOfWork(session_factory) as uow:
        await uow.complaints.add(complaint())
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        with pytest.raises(IntegrityError):
            await uow.complaints.add(complaint())


async def test_resident_get_or_create_refreshes(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(session_factory) as uow:
        first = await uow.residents.get_or_create(777, full_name="Old Name")
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        second = await uow.residents.get_or_create(777, full_name="New Name", language="ru")
        await uow.commit()
    assert first.id == second.id
    assert second.full_name == "New Name"
    assert second.language == "ru"


async def test_status_queries(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(session_factory) as uow:
        for message_id, department in [(1, "utilities"), (2, "utilities"), (3, "transport_roads")]:
            row = await uow.complaints.add(complaint(message_id=message_id, department_id=department))
            await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="system")
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        queued = await uow.complaints.by_status(ComplaintStatus.QUEUED, department_id="utilities")
    assert [c.message_id for c in queued] == [1, 2]


async def test_settings_first_writer_wins(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(session_factory) as uow:
        assert await uow.settings.get("webhook_secret") is None
        assert await uow.settings.get_or_create("webhook_secret", "first") == "first"
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        # a second instance generating its own value gets the one already stored
        assert await uow.settings.get_or_create("webhook_secret", "second") == "first"
        await uow.commit()


async def test_desk_prompt_is_answered_only_by_a_reply_to_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(session_factory) as uow:
        row = await uow.complaints.add(complaint())
        prompt = await uow.desk_prompts.open(500001, row.id, -1001000000001)
        assert prompt.prompt_message_id is None
        await uow.desk_prompts.sent(prompt.id, 77)
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        assert await uow.desk_prompts.answered_by(-1001000000001, 76, 500001) is None
        assert await uow.desk_prompts.answered_by(-1001000000001, 77, 500002) is None
        found = await uow.desk_prompts.answered_by(-1001000000001, 77, 500001)
        assert found is not None and found.complaint_id == row.id
        # pressing "resolve" again restarts the same prompt rather than adding one
        again = await uow.desk_prompts.open(500001, row.id, -1001000000001)
        assert again.id == found.id and again.prompt_message_id is None
        await uow.desk_prompts.close(row.id)
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        assert await uow.desk_prompts.answered_by(-1001000000001, 77, 500001) is None
