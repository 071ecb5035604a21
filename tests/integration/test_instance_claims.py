"""Several instances share one database: inbox claims and leader leases, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app.resources import build_resources, sync_directory
from bot.config import Config
from bot.workers.leases import Leadership
from storage.models import DepartmentRow, InboxRow, LeaseRow, OfficialRow
from storage.repositories import InboxItem
from storage.uow import UnitOfWork

LEASE = timedelta(seconds=60)
Factory = async_sessionmaker[AsyncSession]


async def _store(session_factory: Factory, rows: list[tuple[int, int]]) -> None:
    async with UnitOfWork(session_factory) as uow:
        await uow.inbox.add_many(
            [
                InboxItem(update_id=update_id, kind="message", chat_id=chat, message_id=update_id, payload={})
                for update_id, chat in rows
            ]
        )
        await uow.commit()


async def _claim(session_factory: Factory, holder: str, limit: int = 10) -> list[int]:
    async with UnitOfWork(session_factory) as uow:
        rows = await uow.inbox.claim(holder, limit=limit, lease=LEASE)
        await uow.commit()
        return [row.update_id for row in rows]


async def test_a_claimed_row_is_not_claimed_again(session_factory: Factory) -> None:
    await _store(session_factory, [(1, -100), (2, -200), (3, -300)])
    assert await _claim(session_factory, "a", limit=2) == [1, 2]
    assert await _claim(session_factory, "b") == [3]
    assert await _claim(session_factory, "c") == []


async def test_one_chat_is_worked_by_one_instance_in_order(
    session_factory: Factory,
) -> None:
    await _store(session_factory, [(1, -100), (2, -100), (3, -200), (4, -100)])
    assert await _claim(session_factory, "a", limit=1) == [1]
    # chat -100 is in a's hands: b gets the other chat only, never update 2 before a has done 1
    assert await _claim(session_factory, "b") == [3]
    async with UnitOfWork(session_factory) as uow:
        first = next(row for row in await uow.inbox.pending() if row.update_id == 1)
        await uow.inbox.mark_processed(first.id)
        await uow.commit()
    # b's own claim on 3 is renewed with the rest
    assert await _claim(session_factory, "b") == [2, 3, 4]


async def test_an_expired_claim_comes_back(session_factory: Factory) -> None:
    await _store(session_factory, [(1, -100)])
    assert await _claim(session_factory, "crashed") == [1]
    assert await _claim(session_factory, "survivor") == []
    async with UnitOfWork(session_factory) as uow:  # the crashed holder's lease runs out
        await uow.session.execute(update(InboxRow).values(claimed_until=InboxRow.received_at))
        await uow.commit()
    assert await _claim(session_factory, "survivor") == [1]


async def test_a_failed_row_is_released_for_a_retry(session_factory: Factory) -> None:
    await _store(session_factory, [(1, -100)])
    assert await _claim(session_factory, "a") == [1]
    async with UnitOfWork(session_factory) as uow:
        row = (await uow.inbox.pending())[0]
        await uow.inbox.record_failure(row.id, "boom")
        await uow.commit()
    assert await _claim(session_factory, "b") == [1]


async def test_concurrent_claims_share_out_the_rows(session_factory: Factory) -> None:
    await _store(session_factory, [(n, -1000 - n) for n in range(1, 41)])
    claimed: dict[str, list[int]] = {"a": [], "b": [], "c": []}

    async def drain(holder: str) -> None:
        while True:
            try:
                got = await _claim(session_factory, holder, limit=3)
            except Exception as exc:  # SQLite allows one writer; a busy database is retried
                if "locked" not in str(exc):
                    raise
                await asyncio.sleep(0.01)
                continue
            if not got:
                return
            claimed[holder] += got
            async with UnitOfWork(session_factory) as uow:  # handled, as the inbox processor does
                for row in await uow.inbox.pending(limit=100):
                    if row.update_id in got:
                        await uow.inbox.mark_processed(row.id)
                await uow.commit()

    await asyncio.gather(*(drain(holder) for holder in claimed))
    everything = sorted(n for got in claimed.values() for n in got)
    assert everything == list(range(1, 41))  # each row claimed exactly once


async def test_one_leader_at_a_time_and_takeover_after_expiry(
    session_factory: Factory,
) -> None:
    def factory() -> UnitOfWork:
        return UnitOfWork(session_factory)

    first = Leadership(factory, "polling", "instance-a", ttl_seconds=30)
    second = Leadership(factory, "polling", "instance-b", ttl_seconds=30)
    assert await first.try_acquire()
    assert not await second.try_acquire()
    assert await first.try_acquire()  # renewing one's own lease
    async with UnitOfWork(session_factory) as uow:
        assert await uow.leases.holder("polling") == "instance-a"
        # instance-a dies: its lease runs out
        await uow.session.execute(update(LeaseRow).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))
        await uow.commit()
    assert await second.try_acquire()
    assert not await first.try_acquire()
    await second.release()
    assert await first.try_acquire()


async def test_duties_run_only_while_leading_and_stop_with_the_instance(
    session_factory: Factory,
) -> None:
    def factory() -> UnitOfWork:
        return UnitOfWork(session_factory)

    running: list[str] = []

    def duties_of(name: str):  # type: ignore[no-untyped-def]
        async def duties(stop: asyncio.Event) -> None:
            running.append(name)
            await stop.wait()
            running.remove(name)

        return duties

    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = Leadership(factory, "delivery", "a", ttl_seconds=0.6)
    b = Leadership(factory, "delivery", "b", ttl_seconds=0.6)
    task_a = asyncio.create_task(a.lead(duties_of("a"), stop_a))
    await _until(lambda: running == ["a"])
    task_b = asyncio.create_task(b.lead(duties_of("b"), stop_b))
    await asyncio.sleep(1.0)  # several renewal rounds: b must stay a follower
    assert running == ["a"] and not b.is_leader
    stop_a.set()  # a clean stop releases the lease: b takes over
    await task_a
    await _until(lambda: running == ["b"])
    stop_b.set()
    await task_b
    assert running == []
    assert a.terms == 1 and b.terms == 1


async def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_instances_starting_together_mirror_the_directory_once(
    engine: AsyncEngine, database_url: str, example_config: Config
) -> None:
    config = example_config.model_copy(
        update={"storage": example_config.storage.model_copy(update={"database_url": database_url})}
    )
    async with (
        build_resources(config, prepare=False) as first,
        build_resources(config, prepare=False) as second,
    ):
        for _ in range(5):  # each round starts from an empty directory, as on a fresh database
            async with first.unit_of_work() as uow:
                await uow.session.execute(delete(OfficialRow))
                await uow.session.execute(delete(DepartmentRow))
                await uow.commit()
            await asyncio.gather(sync_directory(first), sync_directory(second))
        async with first.unit_of_work() as uow:
            officials = await uow.directory.officials()
            departments = await uow.directory.departments()
    assert [o.id for o in officials] == sorted(o.id for o in config.officials)
    assert [d.id for d in departments] == sorted(d.id for d in config.departments)


async def test_a_renewed_claim_keeps_only_the_rows_still_held(session_factory: Factory) -> None:
    await _store(session_factory, [(1, -100), (2, -200)])
    assert await _claim(session_factory, "slow") == [1, 2]
    async with UnitOfWork(session_factory) as uow:  # the slow instance's lease ran out on row 2
        await uow.session.execute(
            update(InboxRow).where(InboxRow.update_id == 2).values(claimed_until=InboxRow.received_at)
        )
        await uow.commit()
    assert await _claim(session_factory, "other") == [2]
    async with UnitOfWork(session_factory) as uow:
        ids = {row.update_id: row.id for row in await uow.inbox.pending()}
        held = await uow.inbox.renew(list(ids.values()), "slow", lease=LEASE)
        await uow.commit()
    assert held == {ids[1]}
