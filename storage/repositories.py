"""Repositories: each builds and runs the queries for one aggregate; none of them commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.domain import ComplaintStatus, InboxStatus, check_transition
from bot.core.lifecycle import ON_DESK, UNRESOLVED, CardState, statuses
from storage.base import utcnow
from storage.models import (
    ChatRow,
    ComplaintEventRow,
    ComplaintRow,
    ConversationRow,
    DepartmentRow,
    DeskPromptRow,
    InboxRow,
    JobRunRow,
    LeaseRow,
    NoticeRow,
    OfficialRow,
    ResidentRow,
    SettingRow,
)
from storage.specs import DepartmentSpec, OfficialSpec, WatchSpec


def _insert_ignoring_conflicts(session: AsyncSession, table: Any, index_elements: list[str]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the session's dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")


# keys of the PostgreSQL advisory locks that serialise work across instances
_INBOX_CLAIM_LOCK = 0x5368_6167_796D  # "Shagym"
_DIRECTORY_SYNC_LOCK = _INBOX_CLAIM_LOCK + 1


async def _lock_until_commit(session: AsyncSession, key: int) -> None:
    """Hold a PostgreSQL advisory lock until the transaction ends (SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def _take_claims(
    session: AsyncSession,
    model: Any,
    ids: list[int],
    claimable: Sequence[Any],
    holder: str,
    until: datetime,
) -> Sequence[Any]:
    """Claim the candidate rows `ids` for `holder` until `until`; return those taken, in id order.

    The claimable condition is checked again in the update itself: on SQLite the candidates' select is
    not in the update's transaction, and another claim may have taken a row in between.
    """
    if not ids:
        return []
    taken = await session.scalars(
        update(model)
        .where(model.id.in_(ids), *claimable)
        .values(claimed_by=holder, claimed_until=until)
        .returning(model.id)
    )
    query = select(model).where(model.id.in_(list(taken.all()))).order_by(model.id)
    return (await session.scalars(query.execution_options(populate_existing=True))).all()


class ChatRepository:
    """Chats the bot watches or has seen."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, chat_id: int) -> ChatRow | None:
        """The chat with this id, if known."""
        return await self._session.get(ChatRow, chat_id)

    async def upsert_seen(
        self, chat_id: int, *, type: str, title: str | None = None, username: str | None = None
    ) -> ChatRow:
        """Record (or refresh) a chat the bot received a message from."""
        row = await self._session.get(ChatRow, chat_id)
        if row is None:
            row = ChatRow(id=chat_id, type=type, title=title, username=username, watched=False)
            self._session.add(row)
        else:
            row.type, row.title, row.username = type, title, username
        return row

    async def sync_watch(self, watch: WatchSpec) -> None:
        """Mark exactly the configured chats as watched and acknowledged."""
        await self._session.execute(update(ChatRow).values(watched=False, acknowledge=False))
        explicit = [] if watch.chats == "all" else list(watch.chats)
        for chat_id in {*explicit, *watch.acknowledge_chats}:
            row = await self._session.get(ChatRow, chat_id)
            if row is None:
                row = ChatRow(id=chat_id, type="unknown")
                self._session.add(row)
            row.watched = watch.watches(chat_id)
            row.acknowledge = chat_id in watch.acknowledge_chats

    async def list(self) -> Sequence[ChatRow]:
        """Every known chat."""
        return (await self._session.scalars(select(ChatRow).order_by(ChatRow.id))).all()


class DirectoryRepository:
    """Officials and departments, mirrored from the config so that history can refer to them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_for_sync(self) -> None:
        """Wait for any other instance's sync to commit: two starting at once must not insert twice."""
        await _lock_until_commit(self._session, _DIRECTORY_SYNC_LOCK)

    async def sync_officials(self, officials: Sequence[OfficialSpec]) -> None:
        """Insert or update the configured officials and deactivate the ones removed from config."""
        rows = {row.id: row for row in (await self._session.scalars(select(OfficialRow))).all()}
        for official in officials:
            row = rows.pop(official.id, None) or OfficialRow(id=official.id)
            row.name_ru, row.name_kk, row.name_en = official.name.ru, official.name.kk, official.name.en
            row.usernames = list(official.usernames)
            row.user_ids = list(official.user_ids)
            row.aliases = list(official.aliases)
            digest = official.digest
            row.digest_chat_id = digest.chat_id if digest else None
            row.digest_schedule = digest.schedule if digest else None
            row.digest_language = digest.language if digest else None
            row.active = True
            self._session.add(row)
        for row in rows.values():
            row.active = False

    async def sync_departments(self, departments: Sequence[DepartmentSpec]) -> None:
        """Insert or update the configured departments and deactivate the ones removed from config."""
        rows = {row.id: row for row in (await self._session.scalars(select(DepartmentRow))).all()}
        for department in departments:
            row = rows.pop(department.id, None) or DepartmentRow(id=department.id)
            row.name_ru, row.name_kk, row.name_en = (
                department.name.ru,
                department.name.kk,
                department.name.en,
            )
            row.chat_id = department.chat_id
            row.staff = list(department.staff)
            row.head = department.head
            row.sla_hours = department.sla_hours
            row.active = True
            self._session.add(row)
        for row in rows.values():
            row.active = False

    async def officials(self, *, active_only: bool = True) -> Sequence[OfficialRow]:
        """Officials, ordered by id."""
        query = select(OfficialRow).order_by(OfficialRow.id)
        if active_only:
            query = query.where(OfficialRow.active.is_(True))
        return (await self._session.scalars(query)).all()

    async def departments(self, *, active_only: bool = True) -> Sequence[DepartmentRow]:
        """Departments, ordered by id."""
        query = select(DepartmentRow).order_by(DepartmentRow.id)
        if active_only:
            query = query.where(DepartmentRow.active.is_(True))
        return (await self._session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A raw update to store before processing."""

    update_id: int
    kind: str
    payload: dict[str, Any]
    chat_id: int | None = None
    message_id: int | None = None


class InboxRepository:
    """The durable inbox of raw updates: written first, processed after, never lost."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, items: Sequence[InboxItem]) -> list[int]:
        """Store updates, ignoring ones already stored (Telegram may redeliver); return the new rows' ids."""
        if not items:
            return []
        statement = _insert_ignoring_conflicts(self._session, InboxRow, ["update_id"]).returning(InboxRow.id)
        now = utcnow()
        result = await self._session.execute(
            statement,
            [
                {
                    "update_id": item.update_id,
                    "kind": item.kind,
                    "chat_id": item.chat_id,
                    "message_id": item.message_id,
                    "payload": item.payload,
                    "status": InboxStatus.PENDING.value,
                    "attempts": 0,
                    "received_at": now,
                }
                for item in items
            ],
        )
        return sorted(int(inbox_id) for inbox_id in result.scalars().all())

    async def get(self, inbox_id: int) -> InboxRow | None:
        """One inbox row."""
        return await self._session.get(InboxRow, inbox_id)

    async def pending(self, *, limit: int = 100, max_attempts: int = 5) -> Sequence[InboxRow]:
        """Oldest unprocessed updates that have not failed too often."""
        query = (
            select(InboxRow)
            .where(InboxRow.status == InboxStatus.PENDING.value, InboxRow.attempts < max_attempts)
            .order_by(InboxRow.id)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def claim(
        self,
        holder: str,
        *,
        limit: int,
        lease: timedelta,
        max_attempts: int = 5,
        per_chat: int | None = None,
        skip_chats: Collection[int] = (),
        skip_ids: Collection[int] = (),
        chat_id: int | None = None,
    ) -> Sequence[InboxRow]:
        """Claim the oldest pending rows for `holder` until the lease ends, in id order.

        Chats another holder is working on are skipped, so one chat's updates are handled by one
        instance at a time and in order; on PostgreSQL claims are serialised by an advisory lock
        held until the caller commits. `per_chat` caps the rows of any one chat (rows without a chat
        count as one chat), so a flooded chat cannot fill the claim; `skip_chats` and `skip_ids` leave
        out what the caller already has in hand; `chat_id` claims only that chat's rows.
        """
        now = utcnow()
        await _lock_until_commit(self._session, _INBOX_CLAIM_LOCK)
        busy_chats = select(InboxRow.chat_id).where(
            InboxRow.status == InboxStatus.PENDING.value,
            InboxRow.claimed_until > now,
            InboxRow.claimed_by != holder,
            InboxRow.chat_id.is_not(None),
        )
        claimable = (
            InboxRow.status == InboxStatus.PENDING.value,
            or_(
                InboxRow.claimed_until.is_(None),
                InboxRow.claimed_until <= now,
                InboxRow.claimed_by == holder,
            ),
        )
        conditions = [
            *claimable,
            InboxRow.attempts < max_attempts,
            or_(InboxRow.chat_id.is_(None), InboxRow.chat_id.not_in(busy_chats)),
        ]
        if chat_id is not None:
            conditions.append(InboxRow.chat_id == chat_id)
        if skip_chats:
            conditions.append(or_(InboxRow.chat_id.is_(None), InboxRow.chat_id.not_in(list(skip_chats))))
        if skip_ids:
            conditions.append(InboxRow.id.not_in(list(skip_ids)))
        if per_chat is None:
            candidates = select(InboxRow.id).where(*conditions).order_by(InboxRow.id).limit(limit)
        else:
            # each chat's oldest `per_chat` rows: a window over the pending rows, ranked within their chat
            rank = func.row_number().over(partition_by=InboxRow.chat_id, order_by=InboxRow.id)
            ranked = select(InboxRow.id, rank.label("rank")).where(*conditions).subquery()
            candidates = (
                select(ranked.c.id).where(ranked.c.rank <= per_chat).order_by(ranked.c.id).limit(limit)
            )
        ids = list((await self._session.scalars(candidates)).all())
        return await _take_claims(self._session, InboxRow, ids, claimable, holder, now + lease)

    async def release(self, inbox_ids: Sequence[int], holder: str) -> None:
        """Give up `holder`'s claim on rows it will not handle (a clean stop): others may take them now."""
        if not inbox_ids:
            return
        await self._session.execute(
            update(InboxRow)
            .where(
                InboxRow.id.in_(inbox_ids),
                InboxRow.claimed_by == holder,
                InboxRow.status == InboxStatus.PENDING.value,
            )
            .values(claimed_by=None, claimed_until=None)
        )

    async def renew(self, inbox_ids: Sequence[int], holder: str, *, lease: timedelta) -> set[int]:
        """Extend `holder`'s claim on these rows; the ids returned are the ones it still holds."""
        if not inbox_ids:
            return set()
        kept = await self._session.scalars(
            update(InboxRow)
            .where(
                InboxRow.id.in_(inbox_ids),
                InboxRow.claimed_by == holder,
                InboxRow.status == InboxStatus.PENDING.value,
            )
            .values(claimed_until=utcnow() + lease)
            .returning(InboxRow.id)
        )
        return set(kept.all())

    async def mark_processed(self, inbox_id: int) -> None:
        """The update was handled; keep the row for audit and idempotency."""
        await self._session.execute(
            update(InboxRow)
            .where(InboxRow.id == inbox_id)
            .values(
                status=InboxStatus.PROCESSED.value,
                processed_at=utcnow(),
                error=None,
                claimed_by=None,
                claimed_until=None,
            )
        )

    async def record_failure(self, inbox_id: int, error: str, *, max_attempts: int = 5) -> None:
        """Count a failed attempt; after `max_attempts` the row is parked as failed for a human."""
        row = await self._session.get(InboxRow, inbox_id)
        if row is None:
            return
        row.attempts += 1
        row.error = error[:2000]
        row.claimed_by = None  # free for a retry, by this instance or another
        row.claimed_until = None
        if row.attempts >= max_attempts:
            row.status = InboxStatus.FAILED.value

    async def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        rows = await self._session.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status))
        return {status: int(count) for status, count in rows.tuples()}


class LeaseRepository:
    """Named leases: one holder at a time until the lease expires (e.g. the polling leader)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease for `ttl`; True when `holder` holds it afterwards."""
        now = utcnow()
        values = {"name": name, "holder": holder, "expires_at": now + ttl}
        dialect = self._session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(LeaseRow)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": holder, "expires_at": values["expires_at"]},
                where=or_(LeaseRow.expires_at <= now, LeaseRow.holder == holder),
            )
            .returning(LeaseRow.holder)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() == holder

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up now, if `holder` has it, so another instance need not wait for it to expire."""
        await self._session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))

    async def holder(self, name: str) -> str | None:
        """Who holds the lease now, if anyone."""
        row = await self._session.get(LeaseRow, name, populate_existing=True)
        if row is None or row.expires_at <= utcnow():
            return None
        return row.holder


class NoticeRepository:
    """The outbox of notices to residents: added with a staff action, claimed and sent after it."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, complaint_id: int, event: str, *, comment: str | None = None, original: int | None = None
    ) -> NoticeRow:
        """Owe a resident a notice; it is sent once the caller's unit of work commits."""
        row = NoticeRow(
            complaint_id=complaint_id,
            event=event,
            comment=comment,
            original=original,
            status="pending",
            attempts=0,
            created_at=utcnow(),
        )
        self._session.add(row)
        return row

    async def claim(
        self, holder: str, *, limit: int, lease: timedelta, max_attempts: int
    ) -> Sequence[NoticeRow]:
        """Claim the oldest pending notices that are due for `holder` until the lease ends."""
        now = utcnow()
        claimable = (
            NoticeRow.status == "pending",
            or_(NoticeRow.claimed_until.is_(None), NoticeRow.claimed_until <= now),
        )
        candidates = (
            select(NoticeRow.id)
            .where(*claimable, NoticeRow.attempts < max_attempts)
            .order_by(NoticeRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self._session.scalars(candidates)).all())
        return await _take_claims(self._session, NoticeRow, ids, claimable, holder, now + lease)

    async def release(self, notice_ids: Sequence[int], holder: str) -> None:
        """Give back claims a stopping instance will not finish, so the next one sends them at once."""
        await self._session.execute(
            update(NoticeRow)
            .where(NoticeRow.id.in_(notice_ids), NoticeRow.claimed_by == holder)
            .values(claimed_by=None, claimed_until=None)
        )

    async def done(self, notice_id: int) -> None:
        """The notice went out (or has no one to go to): nothing more is owed."""
        await self._session.execute(delete(NoticeRow).where(NoticeRow.id == notice_id))

    async def failed(self, notice_id: int, error: str, *, retry_in: timedelta, max_attempts: int) -> None:
        """Count a failed attempt and try again after `retry_in`; park it after `max_attempts`."""
        row = await self._session.get(NoticeRow, notice_id, populate_existing=True)
        if row is None:
            return
        row.attempts += 1
        row.error = error[:2000]
        row.claimed_by = None
        row.claimed_until = utcnow() + retry_in  # not before then
        if row.attempts >= max_attempts:
            row.status = "failed"

    async def counts(self) -> dict[str, int]:
        """Number of notices per status."""
        rows = await self._session.execute(select(NoticeRow.status, func.count()).group_by(NoticeRow.status))
        return {status: int(count) for status, count in rows.tuples()}


class ResidentRepository:
    """Residents, keyed by their Telegram user id."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, resident_id: int) -> ResidentRow | None:
        """A resident by internal id."""
        return await self._session.get(ResidentRow, resident_id)

    async def set_blocked(self, telegram_user_id: int, blocked: bool) -> ResidentRow:
        """Block or unblock a resident (creating the row so a block can precede their first message)."""
        row = await self.get_or_create(telegram_user_id)
        row.blocked = blocked
        return row

    async def by_telegram_id(self, telegram_user_id: int) -> ResidentRow | None:
        """The resident with this Telegram user id, if known."""
        query = select(ResidentRow).where(ResidentRow.telegram_user_id == telegram_user_id)
        row: ResidentRow | None = await self._session.scalar(query)
        return row

    async def get_or_create(
        self,
        telegram_user_id: int,
        *,
        username: str | None = None,
        full_name: str | None = None,
        language: str | None = None,
    ) -> ResidentRow:
        """Find the resident or create one; refresh the name they go by now."""
        row = await self.by_telegram_id(telegram_user_id)
        now = utcnow()
        if row is None:
            row = ResidentRow(
                telegram_user_id=telegram_user_id,
                username=username,
                full_name=full_name,
                language=language,
                created_at=now,
                last_seen_at=now,
            )
            self._session.add(row)
            await self._session.flush()
        else:
            row.username = username or row.username
            row.full_name = full_name or row.full_name
            row.language = row.language or language
            row.last_seen_at = now
        return row


class JobRunRepository:
    """Claims of scheduled job slots, so each slot runs once however many instances run."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, job: str, slot: str, owner: str) -> bool:
        """True for the one caller that gets to run `job` for `slot`."""
        statement = _insert_ignoring_conflicts(self._session, JobRunRow, ["job", "slot"]).returning(
            JobRunRow.job
        )
        result = await self._session.execute(
            statement, [{"job": job, "slot": slot, "owner": owner, "started_at": utcnow()}]
        )
        return result.first() is not None

    async def finish(self, job: str, slot: str) -> None:
        """Record that a claimed slot ran to the end."""
        await self._session.execute(
            update(JobRunRow).where(JobRunRow.job == job, JobRunRow.slot == slot).values(finished_at=utcnow())
        )


class ConversationRepository:
    """Private-chat state per resident."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: int) -> ConversationRow | None:
        """The resident's conversation, if one is open."""
        return await self._session.get(ConversationRow, user_id)

    async def save(self, user_id: int, state: str, data: dict[str, Any]) -> None:
        """Store the conversation state (replacing any previous one)."""
        row = await self._session.get(ConversationRow, user_id)
        if row is None:
            self._session.add(ConversationRow(user_id=user_id, state=state, data=data, updated_at=utcnow()))
        else:
            row.state, row.data, row.updated_at = state, dict(data), utcnow()

    async def clear(self, user_id: int) -> None:
        """Forget the conversation."""
        row = await self._session.get(ConversationRow, user_id)
        if row is not None:
            await self._session.delete(row)


class DeskPromptRepository:
    """Pending resolutions: which staff member was asked for a comment on which complaint, and where."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open(self, user_id: int, complaint_id: int, chat_id: int) -> DeskPromptRow:
        """Start (or restart) the user's pending resolution of a complaint; its prompt is not sent yet."""
        row = (
            await self._session.execute(
                select(DeskPromptRow).where(
                    DeskPromptRow.user_id == user_id, DeskPromptRow.complaint_id == complaint_id
                )
            )
        ).scalar_one_or_none()
        if row is None:
            row = DeskPromptRow(
                user_id=user_id, complaint_id=complaint_id, chat_id=chat_id, created_at=utcnow()
            )
            self._session.add(row)
        else:
            row.chat_id, row.prompt_message_id, row.created_at = chat_id, None, utcnow()
        await self._session.flush()
        return row

    async def sent(self, prompt_id: int, message_id: int) -> None:
        """Record the message id of the prompt the bot sent, the one a reply must answer."""
        await self._session.execute(
            update(DeskPromptRow).where(DeskPromptRow.id == prompt_id).values(prompt_message_id=message_id)
        )

    async def answered_by(self, chat_id: int, prompt_message_id: int, user_id: int) -> DeskPromptRow | None:
        """The user's pending resolution whose prompt is the message `prompt_message_id` in `chat_id`."""
        statement = select(DeskPromptRow).where(
            DeskPromptRow.chat_id == chat_id,
            DeskPromptRow.prompt_message_id == prompt_message_id,
            DeskPromptRow.user_id == user_id,
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def close(self, complaint_id: int) -> None:
        """Forget every pending resolution of a complaint (it was resolved or otherwise closed)."""
        await self._session.execute(delete(DeskPromptRow).where(DeskPromptRow.complaint_id == complaint_id))

    async def discard(self, prompt_id: int) -> None:
        """Forget one pending resolution (its complaint moved or closed since it was asked)."""
        await self._session.execute(delete(DeskPromptRow).where(DeskPromptRow.id == prompt_id))

    async def expire(self, before: datetime) -> int:
        """Delete pending resolutions started before `before`; return how many."""
        result = await self._session.execute(delete(DeskPromptRow).where(DeskPromptRow.created_at < before))
        return max(int(getattr(result, "rowcount", 0) or 0), 0)


class SettingRepository:
    """Values the bot generates once and every instance shares, such as the webhook secret."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> str | None:
        """The stored value, if any."""
        row = await self._session.get(SettingRow, key)
        return None if row is None else row.value

    async def get_or_create(self, key: str, value: str) -> str:
        """The stored value; when there is none, store `value` — whichever instance stores first wins."""
        statement = _insert_ignoring_conflicts(self._session, SettingRow, ["key"])
        await self._session.execute(statement, [{"key": key, "value": value, "created_at": utcnow()}])
        stored = await self._session.get(SettingRow, key, populate_existing=True)
        assert stored is not None
        return stored.value


class ComplaintRepository:
    """Complaints and their audit log."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, complaint: ComplaintRow, *, actor: str = "system", actor_user_id: int | None = None
    ) -> ComplaintRow:
        """Store a new complaint and its `created` event."""
        now = utcnow()
        complaint.created_at = complaint.created_at or now
        complaint.updated_at = now
        complaint.status = complaint.status or ComplaintStatus.NEW.value
        self._session.add(complaint)
        await self._session.flush()
        self._session.add(
            ComplaintEventRow(
                complaint_id=complaint.id,
                at=now,
                actor=actor,
                actor_user_id=actor_user_id,
                action="created",
                from_status=None,
                to_status=complaint.status,
                details={"category": complaint.category, "department": complaint.department_id},
            )
        )
        return complaint

    async def get(self, complaint_id: int) -> ComplaintRow | None:
        """One complaint by its number."""
        return await self._session.get(ComplaintRow, complaint_id)

    async def by_source(self, chat_id: int, message_id: int) -> ComplaintRow | None:
        """The complaint made from this message, if any (processing is idempotent on it)."""
        query = select(ComplaintRow).where(
            ComplaintRow.chat_id == chat_id, ComplaintRow.message_id == message_id
        )
        row: ComplaintRow | None = await self._session.scalar(query)
        return row

    async def change_status(
        self,
        complaint: ComplaintRow,
        target: ComplaintStatus,
        *,
        actor: str,
        actor_user_id: int | None = None,
        action: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Move a complaint to `target` if the lifecycle allows it, and log who did it."""
        current = ComplaintStatus(complaint.status)
        check_transition(current, target)
        now = utcnow()
        complaint.status = target.value
        complaint.updated_at = now
        if target is ComplaintStatus.RESOLVED:
            complaint.resolved_at = now
        if current.is_final and target is ComplaintStatus.QUEUED:
            complaint.reopen_count += 1
            complaint.resolved_at = None
        await self.log(
            complaint,
            action or target.value,
            actor=actor,
            actor_user_id=actor_user_id,
            from_status=current.value,
            to_status=target.value,
            details=details,
        )

    async def log(
        self,
        complaint: ComplaintRow,
        action: str,
        *,
        actor: str,
        actor_user_id: int | None = None,
        from_status: str | None = None,
        to_status: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an event to the complaint's audit log."""
        self._session.add(
            ComplaintEventRow(
                complaint_id=complaint.id,
                at=utcnow(),
                actor=actor,
                actor_user_id=actor_user_id,
                action=action,
                from_status=from_status,
                to_status=to_status,
                details=details or {},
            )
        )

    async def events(self, complaint_id: int) -> Sequence[ComplaintEventRow]:
        """The audit log of one complaint, oldest first."""
        query = (
            select(ComplaintEventRow)
            .where(ComplaintEventRow.complaint_id == complaint_id)
            .order_by(ComplaintEventRow.id)
        )
        return (await self._session.scalars(query)).all()

    async def for_resident(self, resident_id: int, *, limit: int = 20) -> Sequence[ComplaintRow]:
        """A resident's complaints, newest first."""
        query: Select[tuple[ComplaintRow]] = (
            select(ComplaintRow)
            .where(ComplaintRow.resident_id == resident_id)
            .order_by(ComplaintRow.id.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def by_status(
        self, status: ComplaintStatus, *, department_id: str | None = None, limit: int = 100
    ) -> Sequence[ComplaintRow]:
        """Complaints in one status, oldest first, optionally for one department."""
        query = select(ComplaintRow).where(ComplaintRow.status == status.value)
        if department_id is not None:
            query = query.where(ComplaintRow.department_id == department_id)
        return (await self._session.scalars(query.order_by(ComplaintRow.id).limit(limit))).all()

    async def opening(self, *, limit: int = 1000) -> Sequence[ComplaintRow]:
        """Complaints whose own card staff asked for from a combined message and that have none yet."""
        query = select(ComplaintRow).where(ComplaintRow.card_state == CardState.OPENING.value)
        return (await self._session.scalars(query.order_by(ComplaintRow.id).limit(limit))).all()

    async def open_in_department(
        self, department_id: str, *, exclude: int, limit: int = 6
    ) -> Sequence[ComplaintRow]:
        """Newest open complaints of a department (candidates for 'duplicate of')."""
        query = (
            select(ComplaintRow)
            .where(
                ComplaintRow.department_id == department_id,
                ComplaintRow.id != exclude,
                ComplaintRow.status.in_(statuses(ON_DESK)),
            )
            .order_by(ComplaintRow.id.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def duplicates_of(self, complaint_id: int) -> Sequence[ComplaintRow]:
        """Complaints merged into this one."""
        query = (
            select(ComplaintRow).where(ComplaintRow.duplicate_of_id == complaint_id).order_by(ComplaintRow.id)
        )
        return (await self._session.scalars(query)).all()

    async def mark_duplicate(
        self,
        complaint: ComplaintRow,
        original: ComplaintRow,
        *,
        actor: str = "staff",
        actor_user_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Merge `complaint` into `original`: one case, with a counter of reporters."""
        await self.change_status(
            complaint,
            ComplaintStatus.DUPLICATE,
            actor=actor,
            actor_user_id=actor_user_id,
            details={**(details or {}), "original": original.id},
        )
        complaint.duplicate_of_id = original.id
        original.duplicate_count += 1 + complaint.duplicate_count
        for merged in await self.duplicates_of(complaint.id):
            merged.duplicate_of_id = original.id
        await self.log(
            original, "merged", actor=actor, actor_user_id=actor_user_id, details={"duplicate": complaint.id}
        )

    async def due_for_reminder(
        self, now: datetime, before: timedelta, *, limit: int = 200
    ) -> Sequence[ComplaintRow]:
        """Open complaints whose deadline is within `before` and that were not reminded yet."""
        query = (
            select(ComplaintRow)
            .where(
                ComplaintRow.status.in_(statuses(ON_DESK)),
                ComplaintRow.deadline_at.is_not(None),
                ComplaintRow.deadline_at > now,
                ComplaintRow.deadline_at <= now + before,
                ComplaintRow.reminded_at.is_(None),
            )
            .order_by(ComplaintRow.deadline_at)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def overdue(
        self, now: datetime, *, below_level: int, older_than: timedelta, limit: int = 200
    ) -> Sequence[ComplaintRow]:
        """Open complaints past their deadline by `older_than` whose escalation is below a level."""
        query = (
            select(ComplaintRow)
            .where(
                ComplaintRow.status.in_(statuses(ON_DESK)),
                ComplaintRow.deadline_at.is_not(None),
                ComplaintRow.deadline_at <= now - older_than,
                ComplaintRow.escalation_level < below_level,
            )
            .order_by(ComplaintRow.deadline_at)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def similar_candidates(
        self, department_id: str, category: str, since: datetime, *, exclude: int, limit: int = 200
    ) -> Sequence[ComplaintRow]:
        """Open, non-duplicate complaints of the same department and category since a moment."""
        query = (
            select(ComplaintRow)
            .where(
                ComplaintRow.department_id == department_id,
                ComplaintRow.category == category,
                ComplaintRow.created_at >= since,
                ComplaintRow.id != exclude,
                ComplaintRow.status.in_(statuses(UNRESOLVED)),
            )
            .order_by(ComplaintRow.id.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def last_staff_name(self, complaint_id: int) -> str | None:
        """Who acted on the complaint last (for the card)."""
        query = (
            select(ComplaintEventRow.details)
            .where(ComplaintEventRow.complaint_id == complaint_id, ComplaintEventRow.actor == "staff")
            .order_by(ComplaintEventRow.id.desc())
            .limit(1)
        )
        details = await self._session.scalar(query)
        return str(details["by"]) if isinstance(details, dict) and details.get("by") else None

    async def recent_for_resident(self, resident_id: int, *, since: datetime) -> list[datetime]:
        """When a resident filed private complaints since a moment (for the per-resident rate limit)."""
        query = select(ComplaintRow.created_at).where(
            ComplaintRow.resident_id == resident_id,
            ComplaintRow.source == "private",
            ComplaintRow.created_at >= since,
        )
        return list((await self._session.scalars(query)).all())

    async def count_by_status(self, *, since: datetime | None = None) -> dict[str, int]:
        """Number of complaints per status, optionally created since a moment."""
        query = select(ComplaintRow.status, func.count()).group_by(ComplaintRow.status)
        if since is not None:
            query = query.where(ComplaintRow.created_at >= since)
        rows = await self._session.execute(query)
        return {status: int(count) for status, count in rows.tuples()}

    async def count_by_department_and_status(self) -> dict[tuple[str, str], int]:
        """Number of complaints per (department, status), in one query (for the metrics endpoint)."""
        query = select(ComplaintRow.department_id, ComplaintRow.status, func.count()).group_by(
            ComplaintRow.department_id, ComplaintRow.status
        )
        rows = await self._session.execute(query)
        return {(department, status): int(count) for department, status, count in rows.tuples()}
