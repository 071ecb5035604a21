"""Staff corrections the classifier learns from: complaints' texts with the events that moved them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ComplaintEventRow, ComplaintRow


class CorrectionRepository:
    """Reads the audit log joined with the complaints' texts; it writes nothing."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def texts_with_events(self, action: str) -> list[tuple[str, Any]]:
        """(complaint text, event details) of every event with this action, oldest event first."""
        statement = (
            select(ComplaintRow.text, ComplaintEventRow.details)
            .join(ComplaintRow, ComplaintRow.id == ComplaintEventRow.complaint_id)
            .where(ComplaintEventRow.action == action)
            .order_by(ComplaintEventRow.at, ComplaintEventRow.id)
        )
        return [(text, details) for text, details in await self._session.execute(statement)]
