"""The inbox claims behind the processor's per-chat lanes, on SQLite and PostgreSQL: a flooded chat cannot
fill a claim, chats and rows already in hand are left out, one chat's rows can be claimed alone, and a clean
stop gives rows back."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import InboxItem
from storage.uow import UnitOfWork

LEASE = timedelta(seconds=60)
Factory = async_sessionmaker[AsyncSession]
FLOODED, QUIET, OTHER = 700001, -100, -200


async def _store(session_factory: Factory, chats: list[int | None]) -> None:
    async with UnitOfWork(session_factory) as uow:
        await uow.inbox.add_many(
            [
                InboxItem(update_id=n, kind="message", chat_id=chat, message_id=n, payload={})
                for n, chat in enumerate(chats, start=1)
            ]
        )
        await uow.commit()


async def _claim(
    session_factory: Factory,
    holder: str = "a",
    *,
    limit: int = 10,
    per_chat: int | None = None,
    skip_chats: Collection[int] = (),
    skip_ids: Collection[int] = (),
    chat_id: int | None = None,
) -> list[int]:
    async with UnitOfWork(session_factory) as uow:
        rows = await uow.inbox.claim(
            holder,
            limit=limit,
            lease=LEASE,
            per_chat=per_chat,
            skip_chats=skip_chats,
            skip_ids=skip_ids,
            chat_id=chat_id,
        )
        await uow.commit()
        return [row.update_id for row in rows]


async def test_a_flooded_chat_cannot_fill_the_claim(session_factory: Factory) -> None:
    await _store(session_factory, [FLOODED] * 30 + [QUIET, None, OTHER, None])
    # without a cap the flood's oldest rows take the whole claim
    assert await _claim(session_factory, "a", limit=5) == [1, 2, 3, 4, 5]
    # with one, each chat (rows without a chat count as one) gets its oldest rows, in id order
    assert await _claim(session_factory, "a", limit=10, per_chat=3) == [1, 2, 3, 31, 32, 33, 34]


async def test_chats_and_rows_in_hand_are_left_out(session_factory: Factory) -> None:
    await _store(session_factory, [FLOODED, FLOODED, QUIET, None, QUIET])
    assert await _claim(session_factory, skip_chats=[FLOODED], skip_ids=[4]) == [3, 5]
    # rows without a chat are never skipped by chat
    assert await _claim(session_factory, skip_chats=[FLOODED, QUIET]) == [4]
    # the holder's own claims are taken again unless they are in hand
    assert await _claim(session_factory, skip_ids=[3, 4, 5]) == [1, 2]
    assert await _claim(session_factory) == [1, 2, 3, 4, 5]


async def test_one_chats_rows_alone_and_not_another_holders(session_factory: Factory) -> None:
    await _store(session_factory, [FLOODED, QUIET, FLOODED, OTHER, FLOODED])
    assert await _claim(session_factory, chat_id=FLOODED, limit=2) == [1, 3]
    assert await _claim(session_factory, chat_id=FLOODED, skip_ids=[1, 3]) == [5]
    # another instance holds FLOODED: it gets only the other chats
    assert await _claim(session_factory, "b", chat_id=FLOODED) == []
    assert await _claim(session_factory, "b") == [2, 4]


async def test_released_rows_go_to_the_next_claimer_at_once(session_factory: Factory) -> None:
    await _store(session_factory, [QUIET, QUIET, OTHER])
    assert await _claim(session_factory, "stopping") == [1, 2, 3]
    assert await _claim(session_factory, "next") == []
    async with UnitOfWork(session_factory) as uow:
        ids = {row.update_id: row.id for row in await uow.inbox.pending()}
        await uow.inbox.mark_processed(ids[1])
        await uow.inbox.release([ids[2], ids[3]], "stopping")
        await uow.inbox.release([ids[2]], "someone-else")  # only the holder's own claims are released
        await uow.commit()
    assert await _claim(session_factory, "next") == [2, 3]
