"""Queries of the personal-data retention: what has outlived its period, and one resident's traces."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.domain import ComplaintSource, ComplaintStatus, InboxStatus
from bot.core.lifecycle import FINAL, statuses
from storage.models import ComplaintEventRow, ComplaintRow, ConversationRow, InboxRow, NoticeRow, ResidentRow

FINAL_STATUSES = statuses(FINAL)


def _closed_at(complaint: Any) -> Any:
    """When a complaint last changed status (its closure, for a closed one); its update time otherwise."""
    last_change = (
        select(func.max(ComplaintEventRow.at))
        .where(ComplaintEventRow.complaint_id == complaint.id, ComplaintEventRow.to_status.is_not(None))
        .scalar_subquery()
    )
    return func.coalesce(last_change, complaint.updated_at)


class RetentionRepository:
    """Finds and erases residents' personal data; like every repository, it never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- complaints ----------------------------------------------------------------------------------

    async def expired_complaints(self, cutoff: datetime, *, limit: int) -> Sequence[ComplaintRow]:
        """Closed complaints, closed before `cutoff`, whose author's data is still kept.

        A duplicate's reporter hears the original's resolution, so a duplicate waits for its original
        to be closed before `cutoff` too.
        """
        original = aliased(ComplaintRow)
        query = (
            select(ComplaintRow)
            .outerjoin(original, original.id == ComplaintRow.duplicate_of_id)
            .where(
                ComplaintRow.erased_at.is_(None),
                ComplaintRow.status.in_(FINAL_STATUSES),
                _closed_at(ComplaintRow) < cutoff,
                or_(
                    ComplaintRow.status != ComplaintStatus.DUPLICATE.value,
                    original.id.is_(None),
                    and_(original.status.in_(FINAL_STATUSES), _closed_at(original) < cutoff),
                ),
            )
            .order_by(ComplaintRow.id)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def complaints_of(self, telegram_user_id: int, resident_id: int | None) -> Sequence[ComplaintRow]:
        """Every complaint a resident filed: linked to their row, or sent from their private chat."""
        # a private chat's id is the user's id, so this also finds complaints whose link was cut earlier
        conditions: list[ColumnElement[bool]] = [
            and_(
                ComplaintRow.source == ComplaintSource.PRIVATE.value,
                ComplaintRow.chat_id == telegram_user_id,
            )
        ]
        if resident_id is not None:
            conditions.append(ComplaintRow.resident_id == resident_id)
        query = select(ComplaintRow).where(or_(*conditions)).order_by(ComplaintRow.id)
        return (await self._session.scalars(query)).all()

    async def forget_resident_actions(
        self, *, complaint_ids: Sequence[int] = (), telegram_user_id: int | None = None
    ) -> int:
        """Cut the Telegram user id off residents' own audit events (filed, confirmed, reopened)."""
        conditions: list[ColumnElement[bool]] = []
        if complaint_ids:
            conditions.append(ComplaintEventRow.complaint_id.in_(list(complaint_ids)))
        if telegram_user_id is not None:
            conditions.append(ComplaintEventRow.actor_user_id == telegram_user_id)
        if not conditions:
            return 0
        statement = (
            update(ComplaintEventRow)
            .where(
                or_(*conditions),
                ComplaintEventRow.actor == "resident",
                ComplaintEventRow.actor_user_id.is_not(None),
            )
            .values(actor_user_id=None)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement))

    # --- residents -----------------------------------------------------------------------------------

    async def delete_stale_residents(self, cutoff: datetime) -> int:
        """Delete residents not seen since `cutoff` who have no complaint still linked, unless blocked."""
        statement = (
            delete(ResidentRow)
            .where(
                ResidentRow.last_seen_at < cutoff,
                ResidentRow.blocked.is_(False),
                ~exists().where(ComplaintRow.resident_id == ResidentRow.id),
            )
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement))

    async def anonymise_stale_blocked(self, cutoff: datetime) -> int:
        """Blocked residents not seen since `cutoff`: keep the id and the block, drop everything else."""
        statement = (
            update(ResidentRow)
            .where(
                ResidentRow.last_seen_at < cutoff,
                ResidentRow.blocked.is_(True),
                ~exists().where(ComplaintRow.resident_id == ResidentRow.id),
                or_(
                    ResidentRow.username.is_not(None),
                    ResidentRow.full_name.is_not(None),
                    ResidentRow.phone.is_not(None),
                    ResidentRow.language.is_not(None),
                ),
            )
            .values(username=None, full_name=None, phone=None, language=None)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement))

    # --- inbox ---------------------------------------------------------------------------------------

    async def delete_inbox(self, status: InboxStatus, received_before: datetime) -> int:
        """Delete raw updates in `status` received before a moment (never pending ones: work to do)."""
        if status is InboxStatus.PENDING:
            raise ValueError("pending updates are never deleted")
        statement = (
            delete(InboxRow)
            .where(InboxRow.status == status.value, InboxRow.received_at < received_before)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement))

    async def delete_failed_notices(self, created_before: datetime) -> int:
        """Delete notices given up on (their staff comment may name people); pending ones are still owed."""
        statement = (
            delete(NoticeRow)
            .where(NoticeRow.status == "failed", NoticeRow.created_at < created_before)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement))

    async def inbox_candidates(self, needle: str) -> Sequence[tuple[int, dict[str, Any]]]:
        """(id, payload) of handled raw updates whose JSON text contains `needle` (the caller checks)."""
        query = (
            select(InboxRow.id, InboxRow.payload)
            .where(
                InboxRow.status != InboxStatus.PENDING.value,
                cast(InboxRow.payload, String).contains(needle, autoescape=True),
            )
            .order_by(InboxRow.id)
        )
        return [(int(row_id), payload) for row_id, payload in (await self._session.execute(query)).tuples()]

    async def empty_inbox_payloads(self, inbox_ids: Sequence[int], *, private_chat_id: int) -> int:
        """Replace these rows' raw updates with `{}` (the row stays: its update id keeps redelivery out)."""
        if not inbox_ids:
            return 0
        ids = list(inbox_ids)
        statement = (
            update(InboxRow)
            .where(InboxRow.id.in_(ids))
            .values(payload={})
            .execution_options(synchronize_session=False)
        )
        count = _rowcount(await self._session.execute(statement))
        # a private chat's id is the user's own
        await self._session.execute(
            update(InboxRow)
            .where(InboxRow.id.in_(ids), InboxRow.chat_id == private_chat_id)
            .values(chat_id=None, message_id=None)
            .execution_options(synchronize_session=False)
        )
        return count

    # --- conversations -------------------------------------------------------------------------------

    async def delete_conversations(
        self, *, updated_before: datetime | None = None, user_id: int | None = None
    ) -> int:
        """Delete private-chat drafts untouched since a moment, or one user's."""
        conditions: list[ColumnElement[bool]] = []
        if updated_before is not None:
            conditions.append(ConversationRow.updated_at < updated_before)
        if user_id is not None:
            conditions.append(ConversationRow.user_id == user_id)
        if not conditions:
            raise ValueError("say which conversations to delete")
        statement = delete(ConversationRow).where(*conditions).execution_options(synchronize_session=False)
        return _rowcount(await self._session.execute(statement))


def _rowcount(result: Any) -> int:
    return max(int(getattr(result, "rowcount", 0) or 0), 0)
