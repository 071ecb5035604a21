"""Chats and the city directory (officials, departments) mirrored from the config."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ChatRow,
    DepartmentRow,
    OfficialRow,
)
from storage.repositories._shared import _DIRECTORY_SYNC_LOCK, _lock_until_commit
from storage.specs import DepartmentSpec, OfficialSpec, WatchSpec


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
