"""Staff corrections: complaints rerouted to another category, read from storage for retraining."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.classifier.train import Correction
from storage.models import ComplaintEventRow, ComplaintRow

__all__ = ["REROUTED", "load_corrections"]

REROUTED = "rerouted"


async def load_corrections(session_factory: async_sessionmaker[AsyncSession]) -> list[Correction]:
    """Every rerouting (oldest first): the complaint's text and the category staff moved it to.

    Events whose details lack a string "category" are skipped; later reroutings of the same text win
    when the corrections are applied.
    """
    statement = (
        select(ComplaintRow.text, ComplaintEventRow.details)
        .join(ComplaintRow, ComplaintRow.id == ComplaintEventRow.complaint_id)
        .where(ComplaintEventRow.action == REROUTED)
        .order_by(ComplaintEventRow.at, ComplaintEventRow.id)
    )
    async with session_factory() as session:
        rows = (await session.execute(statement)).all()
    corrections: list[Correction] = []
    for text, details in rows:
        if not isinstance(details, dict):
            continue
        category = details.get("category")
        previous = details.get("previous_category")
        if isinstance(category, str) and category and isinstance(text, str) and text.strip():
            corrections.append(Correction(text, category, previous if isinstance(previous, str) else None))
    return corrections
