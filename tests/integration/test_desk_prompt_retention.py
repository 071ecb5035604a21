"""Unanswered resolution prompts go with the nightly expiry after `drafts_days`; erasure leaves them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import DeskPromptRow
from tests.integration.test_retention import NOW, World, days_ago, eraser

STAFF = 200001


async def prompt(world: World, complaint_id: int, *, user_id: int = STAFF, days: float) -> int:
    async with world.factory() as session:
        row = DeskPromptRow(
            complaint_id=complaint_id,
            chat_id=-1001000000001,
            user_id=user_id,
            prompt_message_id=None,
            created_at=days_ago(days),
        )
        session.add(row)
        await session.commit()
        return row.id


async def remaining(world: World) -> set[int]:
    async with world.factory() as session:
        return set((await session.scalars(select(DeskPromptRow.id))).all())


async def test_expiry_deletes_prompts_older_than_the_drafts_period(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = World(session_factory)
    complaint = await world.complaint(None, None, status="in_progress", created_days_ago=60)
    old = await prompt(world, complaint, days=31)
    recent = await prompt(world, complaint, user_id=STAFF + 1, days=29)

    report = await eraser(session_factory, drafts_days=30).erase_expired(NOW)

    assert report.desk_prompts == 1
    assert await remaining(world) == {recent}
    assert old not in await remaining(world)


async def test_erasing_a_resident_leaves_staff_prompts(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = World(session_factory)
    resident = await world.resident(700101)
    complaint = await world.complaint(resident, 700101, status="in_progress", created_days_ago=2)
    kept = await prompt(world, complaint, days=1)

    await eraser(session_factory).erase_resident(700101, now=NOW)

    assert await remaining(world) == {kept}
