"""Query helpers the repositories share: dialect-aware upserts, advisory locks, row claims."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


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
