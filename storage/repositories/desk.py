"""Pending resolutions of the department desk."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import utcnow
from storage.models import DeskPromptRow


class DeskPromptRepository:
    """Pending resolutions: which staff member was asked for a comment on which complaint, and where."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def asked_by_press(self, user_id: int, complaint_id: int, callback_id: str) -> DeskPromptRow | None:
        """The user's pending resolution of a complaint if the press `callback_id` opened it and its
        prompt went out: that press handled again (a redelivered update) must not ask afresh."""
        statement = select(DeskPromptRow).where(
            DeskPromptRow.user_id == user_id,
            DeskPromptRow.complaint_id == complaint_id,
            DeskPromptRow.callback_id == callback_id,
            DeskPromptRow.prompt_message_id.is_not(None),
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def open(
        self, user_id: int, complaint_id: int, chat_id: int, *, callback_id: str | None = None
    ) -> DeskPromptRow:
        """Start (or restart) the user's pending resolution of a complaint, asked by the press
        `callback_id`; its prompt is not sent yet."""
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
        row.callback_id = callback_id
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
