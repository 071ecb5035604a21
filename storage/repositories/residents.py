"""Residents and their private-chat drafts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import utcnow
from storage.models import (
    ConversationRow,
    ResidentRow,
)


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

    async def delete(self, row: ResidentRow) -> None:
        """Remove the resident's row altogether (erasure on request)."""
        await self._session.delete(row)


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
