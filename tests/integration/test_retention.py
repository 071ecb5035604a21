"""Personal data retention on SQLite and PostgreSQL: exactly the expired data goes, the rest stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config, RetentionConfig
from bot.services.digests import DigestBuilder, DigestRecipient
from bot.services.retention import DataEraser, ExpiryReport
from storage.models import (
    ComplaintEventRow,
    ComplaintRow,
    ConversationRow,
    InboxRow,
    NoticeRow,
    ResidentRow,
)
from storage.uow import UnitOfWork

NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CITY_CHAT = -1001999000111
_ids = count(1)


def days_ago(days: float) -> datetime:
    return NOW - days * DAY


def user(user_id: int, name: str = "Айгерим") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name, "username": f"user{user_id}"}


class World:
    """Builds rows with chosen ages straight in the database."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self.factory = factory

    async def resident(
        self, telegram_id: int, *, seen_days_ago: float = 1, blocked: bool = False, phone: str | None = None
    ) -> int:
        async with self.factory() as session:
            row = ResidentRow(
                telegram_user_id=telegram_id,
                username=f"user{telegram_id}",
                full_name=f"Resident {telegram_id}",
                phone=phone,
                language="kk",
                blocked=blocked,
                created_at=days_ago(seen_days_ago + 10),
                last_seen_at=days_ago(seen_days_ago),
            )
            session.add(row)
            await session.commit()
            return row.id

    async def complaint(
        self,
        resident_id: int | None,
        telegram_id: int | None,
        *,
        status: str = "resolved",
        closed_days_ago: float | None = None,
        created_days_ago: float = 600,
        private: bool = False,
        text: str = "Нет горячей воды на Абая 10",
        duplicate_of: int | None = None,
        card: bool = False,
    ) -> int:
        created = days_ago(created_days_ago)
        closed = days_ago(closed_days_ago) if closed_days_ago is not None else None
        async with self.factory() as session:
            row = ComplaintRow(
                source="private" if private else "group",
                chat_id=telegram_id if private and telegram_id else CITY_CHAT,
                message_id=next(_ids),
                chat_username=None,
                resident_id=resident_id,
                author_name=f"Resident {telegram_id} (@user{telegram_id})" if telegram_id else None,
                text=text,
                language="ru",
                kind="complaint",
                category="heating",
                department_id="utilities",
                urgent=False,
                district="saryarka",
                confidence=0.9,
                needs_triage=False,
                officials=["akim"],
                photos=["photo-file-id"],
                latitude=51.1,
                longitude=71.4,
                status=status,
                duplicate_of_id=duplicate_of,
                duplicate_count=0,
                reopen_count=0,
                created_at=created,
                updated_at=closed or created,
                resolved_at=closed if status == "resolved" else None,
                acknowledged=False,
                escalation_level=0,
                card_state="sent" if card else None,
                card_chat_id=-1001000000001 if card else None,
                card_message_id=next(_ids) if card else None,
            )
            session.add(row)
            await session.flush()
            session.add(
                ComplaintEventRow(
                    complaint_id=row.id,
                    at=created,
                    actor="resident" if private else "system",
                    actor_user_id=telegram_id if private else None,
                    action="created",
                    to_status="new",
                    details={},
                )
            )
            if closed is not None:
                session.add(
                    ComplaintEventRow(
                        complaint_id=row.id,
                        at=closed,
                        actor="staff",
                        actor_user_id=200001,
                        action=status,
                        from_status="in_progress",
                        to_status=status,
                        details={"by": "Staff member", "comment": "fixed"},
                    )
                )
            await session.commit()
            return row.id

    async def inbox(
        self,
        payload: dict[str, Any],
        *,
        status: str = "processed",
        days: float = 1,
        chat_id: int | None = None,
    ) -> int:
        async with self.factory() as session:
            row = InboxRow(
                update_id=next(_ids),
                kind="message",
                chat_id=chat_id,
                message_id=1,
                payload=payload,
                status=status,
                attempts=0,
                received_at=days_ago(days),
            )
            session.add(row)
            await session.commit()
            return row.id

    async def draft(self, user_id: int, *, days: float) -> None:
        async with self.factory() as session:
            session.add(
                ConversationRow(
                    user_id=user_id, state="draft", data={"text": "черновик"}, updated_at=days_ago(days)
                )
            )
            await session.commit()

    async def get(self, model: Any, key: Any) -> Any:
        async with self.factory() as session:
            return await session.get(model, key)

    async def resident_by_telegram(self, telegram_id: int) -> ResidentRow | None:
        async with self.factory() as session:
            row: ResidentRow | None = await session.scalar(
                select(ResidentRow).where(ResidentRow.telegram_user_id == telegram_id)
            )
            return row

    async def events(self, complaint_id: int) -> list[ComplaintEventRow]:
        async with self.factory() as session:
            query = select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == complaint_id)
            return list((await session.scalars(query)).all())


def eraser(factory: async_sessionmaker[AsyncSession], **config: Any) -> DataEraser:
    return DataEraser(RetentionConfig(**config), lambda: UnitOfWork(factory), batch=2)


def message(sender: dict[str, Any], text: str, chat_id: int = CITY_CHAT) -> dict[str, Any]:
    chat = (
        {"id": chat_id, "type": "supergroup", "title": "Астана"}
        if chat_id < 0
        else {**sender, "type": "private"}
    )
    return {
        "update_id": 1,
        "message": {"message_id": 1, "date": 1, "chat": chat, "from": sender, "text": text},
    }


async def test_expiry_erases_exactly_what_outlived_its_period(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = World(session_factory)
    # closed 400 days ago (period 365): the author goes, and the resident nobody has seen since
    old = await world.resident(700001, seen_days_ago=400, phone="+77015550001")
    old_complaint = await world.complaint(old, 700001, closed_days_ago=400)
    # closed 100 days ago: kept
    recent = await world.resident(700002, seen_days_ago=100, phone="+77015550002")
    recent_complaint = await world.complaint(recent, 700002, closed_days_ago=100)
    # open for 500 days: the resident must still hear the outcome
    waiting = await world.resident(700003, seen_days_ago=500)
    open_complaint = await world.complaint(waiting, 700003, status="in_progress", created_days_ago=500)
    # a duplicate closed long ago whose original is still open: its reporter hears the resolution too
    merged = await world.resident(700004, seen_days_ago=450)
    merged_complaint = await world.complaint(
        merged, 700004, status="duplicate", closed_days_ago=450, duplicate_of=open_complaint
    )
    # a private complaint rejected 400 days ago, with a phone number in the text
    private = await world.resident(700005, seen_days_ago=30)
    private_complaint = await world.complaint(
        private,
        700005,
        status="rejected",
        closed_days_ago=400,
        private=True,
        text="Нет воды в доме 10, кв 45. Звоните +7 701 555 12 34",
    )
    # residents with no complaints: one gone quiet, one blocked and gone quiet, one active
    await world.resident(700006, seen_days_ago=400, phone="+77015550006")
    await world.resident(700007, seen_days_ago=400, blocked=True, phone="+77015550007")
    await world.resident(700008, seen_days_ago=10, phone="+77015550008")
    inbox = {
        "processed_old": await world.inbox(message(user(700002), "@akim_astana"), days=40),
        "processed_new": await world.inbox(message(user(700002), "@akim_astana"), days=10),
        "failed_mid": await world.inbox(message(user(700002), "@akim"), status="failed", days=40),
        "failed_old": await world.inbox(message(user(700002), "@akim"), status="failed", days=100),
        "pending_old": await world.inbox(message(user(700002), "@akim"), status="pending", days=100),
    }
    await world.draft(700002, days=40)
    await world.draft(700008, days=5)
    notices = {}
    async with UnitOfWork(session_factory) as uow:  # notices given up on, and one still owed
        cases = (("failed_old", "failed", 100), ("failed_mid", "failed", 40), ("pending_old", "pending", 100))
        for name, status, days in cases:
            notice = await uow.notices.add(open_complaint, "taken", comment="позвоним +7 701 555 12 34")
            notice.status, notice.created_at = status, NOW - timedelta(days=days)
            await uow.session.flush()
            notices[name] = notice.id
        await uow.commit()

    report = await eraser(session_factory).erase_expired(NOW)

    assert report == ExpiryReport(
        complaints=2,
        events=1,
        residents=2,
        blocked_anonymised=1,
        inbox=1,
        failed_inbox=1,
        drafts=1,
        failed_notices=1,
    )
    erased = await world.get(ComplaintRow, old_complaint)
    assert (erased.author_name, erased.resident_id) == (None, None)
    assert erased.erased_at == NOW
    assert erased.text == "Нет горячей воды на Абая 10"  # the city's record stays
    assert (erased.category, erased.district, erased.status) == ("heating", "saryarka", "resolved")
    assert (erased.latitude, erased.photos) == (51.1, ["photo-file-id"])
    assert await world.resident_by_telegram(700001) is None
    staff_event = [e for e in await world.events(old_complaint) if e.actor == "staff"]
    assert staff_event[0].actor_user_id == 200001  # staff act for the city: their actions stay

    gone_private = await world.get(ComplaintRow, private_complaint)
    assert gone_private.chat_id == 0 and gone_private.message_id == private_complaint
    assert gone_private.text == "Нет воды в доме 10, кв 45. Звоните […]"
    assert all(
        e.actor_user_id is None for e in await world.events(private_complaint) if e.actor == "resident"
    )
    # the resident is still active, so their row stays; the old complaint no longer points at them
    assert (await world.resident_by_telegram(700005)) is not None

    for kept_id, resident_id in (
        (recent_complaint, recent),
        (open_complaint, waiting),
        (merged_complaint, merged),
    ):
        kept = await world.get(ComplaintRow, kept_id)
        assert kept.resident_id == resident_id
        assert kept.author_name is not None and kept.erased_at is None
    assert (await world.resident_by_telegram(700002)).phone == "+77015550002"  # type: ignore[union-attr]
    assert await world.resident_by_telegram(700003) is not None
    assert await world.resident_by_telegram(700004) is not None
    assert await world.resident_by_telegram(700006) is None
    blocked = await world.resident_by_telegram(700007)
    assert blocked is not None and blocked.blocked
    assert (blocked.username, blocked.full_name, blocked.phone, blocked.language) == (None, None, None, None)
    assert (await world.resident_by_telegram(700008)).phone == "+77015550008"  # type: ignore[union-attr]

    remaining = {name for name, inbox_id in inbox.items() if await world.get(InboxRow, inbox_id)}
    assert remaining == {"processed_new", "failed_mid", "pending_old"}
    assert await world.get(ConversationRow, 700002) is None
    assert await world.get(ConversationRow, 700008) is not None
    kept_notices = {name for name, notice_id in notices.items() if await world.get(NoticeRow, notice_id)}
    assert kept_notices == {"failed_mid", "pending_old"}

    # a second pass finds nothing left to do
    assert await eraser(session_factory).erase_expired(NOW) == ExpiryReport()
    # the duplicate goes once its original has been closed for the period too
    async with session_factory() as session:
        original = await session.get(ComplaintRow, open_complaint)
        assert original is not None
        original.status = "resolved"
        session.add(
            ComplaintEventRow(
                complaint_id=open_complaint,
                at=days_ago(370),
                actor="staff",
                action="resolved",
                to_status="resolved",
            )
        )
        await session.commit()
    again = await eraser(session_factory).erase_expired(NOW)
    assert again.complaints == 2
    assert (await world.get(ComplaintRow, merged_complaint)).author_name is None


async def test_shorter_periods_are_honoured(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = World(session_factory)
    resident = await world.resident(700011, seen_days_ago=40)
    closed = await world.complaint(resident, 700011, closed_days_ago=40)
    kept_inbox = await world.inbox(message(user(700011), "@akim"), days=3)
    gone_inbox = await world.inbox(message(user(700011), "@akim"), days=6)

    report = await eraser(session_factory, personal_data_days=30, inbox_days=5).erase_expired(NOW)

    assert (report.complaints, report.residents, report.inbox) == (1, 1, 1)
    assert (await world.get(ComplaintRow, closed)).author_name is None
    assert await world.get(InboxRow, kept_inbox) is not None
    assert await world.get(InboxRow, gone_inbox) is None


async def test_digests_count_erased_complaints(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    world = World(session_factory)
    for n in range(3):
        resident = await world.resident(700020 + n, seen_days_ago=400)
        await world.complaint(resident, 700020 + n, closed_days_ago=400 - n * 0.1, created_days_ago=401)
    await world.complaint(None, None, status="in_progress", created_days_ago=400.5)
    recipient = DigestRecipient("official:akim", 100001, "en", None)
    builder = DigestBuilder(example_config, lambda: UnitOfWork(session_factory))
    period = {"start": days_ago(402), "end": days_ago(399)}
    before = await builder.build(recipient, **period)

    report = await eraser(session_factory).erase_expired(NOW)

    assert report.complaints == 3
    after = await builder.build(recipient, **period)
    assert after.parts == before.parts


async def test_erase_resident_takes_one_residents_data_and_nobody_elses(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = World(session_factory)
    target, other = 700031, 700032
    target_row = await world.resident(target, phone="+77015550031")
    other_row = await world.resident(other, phone="+77015550032")
    target_open = await world.complaint(
        target_row, target, status="in_progress", created_days_ago=3, card=True
    )
    target_private = await world.complaint(
        target_row, target, closed_days_ago=2, private=True, text="Звоните 8 (701) 555-00-31", card=True
    )
    other_complaint = await world.complaint(other_row, other, status="in_progress", created_days_ago=3)
    inbox = {
        "target_group": await world.inbox(message(user(target), "@akim_astana нет воды")),
        "target_private": await world.inbox(
            message(user(target), "нет воды", chat_id=target), chat_id=target
        ),
        "target_contact": await world.inbox(
            {"message": {"from": user(other), "contact": {"phone_number": "+7701", "user_id": target}}}
        ),
        "reply_to_target": await world.inbox(
            {"message": {"from": user(other), "text": "+1", "reply_to_message": {"from": user(target)}}}
        ),
        "target_pending": await world.inbox(message(user(target), "@akim"), status="pending"),
        "other": await world.inbox(message(user(other), f"@akim мой сосед {target} шумит")),
    }
    await world.draft(target, days=1)
    await world.draft(other, days=1)
    refreshed: list[tuple[int, str]] = []

    async def refresh(number: int, department: str) -> None:
        refreshed.append((number, department))

    eraser_ = DataEraser(RetentionConfig(), lambda: UnitOfWork(session_factory), refresh_card=refresh)
    report = await eraser_.erase_resident(target, now=NOW)

    assert (report.complaints, report.open_complaints, report.inbox, report.drafts) == (2, 1, 4, 1)
    assert report.resident == "deleted" and report.found
    assert report.events == 1  # the private complaint's "created" by the resident
    assert sorted(refreshed) == [(target_open, "utilities"), (target_private, "utilities")]
    assert await world.resident_by_telegram(target) is None
    for number in (target_open, target_private):
        row = await world.get(ComplaintRow, number)
        assert (row.author_name, row.resident_id, row.erased_at) == (None, None, NOW)
    assert (await world.get(ComplaintRow, target_open)).status == "in_progress"  # still worked on
    private_row = await world.get(ComplaintRow, target_private)
    assert private_row.chat_id == 0 and private_row.text == "Звоните […]"
    for name in ("target_group", "target_private", "target_contact", "reply_to_target"):
        row = await world.get(InboxRow, inbox[name])
        assert row.payload == {}, name
    assert (await world.get(InboxRow, inbox["target_private"])).chat_id is None
    assert (await world.get(InboxRow, inbox["target_pending"])).payload != {}  # left to the processor
    # the other resident keeps everything, even an update whose text contains the number
    assert (await world.get(InboxRow, inbox["other"])).payload != {}
    kept = await world.get(ComplaintRow, other_complaint)
    assert kept.resident_id == other_row and kept.author_name is not None
    assert (await world.resident_by_telegram(other)).phone == "+77015550032"  # type: ignore[union-attr]
    assert await world.get(ConversationRow, target) is None
    assert await world.get(ConversationRow, other) is not None

    again = await eraser_.erase_resident(target, now=NOW)
    assert not again.found


async def test_erasing_a_blocked_resident_keeps_the_block(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = World(session_factory)
    resident = await world.resident(700041, blocked=True, phone="+77015550041")
    await world.complaint(resident, 700041, closed_days_ago=1)

    report = await eraser(session_factory).erase_resident(700041, now=NOW)

    assert report.resident == "kept_blocked"
    row = await world.resident_by_telegram(700041)
    assert row is not None and row.blocked
    assert (row.username, row.full_name, row.phone, row.language) == (None, None, None, None)


async def test_erasing_an_unknown_resident_finds_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = World(session_factory)
    await world.resident(700051)
    report = await eraser(session_factory).erase_resident(700052, now=NOW)
    assert not report.found
    assert await world.resident_by_telegram(700051) is not None
