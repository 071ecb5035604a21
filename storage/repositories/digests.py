"""The digests' queries: aggregates over the complaints table, counted in SQL on SQLite and PostgreSQL.

Everything is grouped in SQL over the indexed created_at range, so only aggregates and short, capped
lists of complaints reach Python. No query returns a complaint's text or anything about its author.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.lifecycle import UNRESOLVED, statuses
from storage.models import ComplaintRow

OPEN_STATUSES = statuses(UNRESOLVED)
_REJECTED = ComplaintStatus.REJECTED.value
_DUPLICATE = ComplaintStatus.DUPLICATE.value
_RESOLVED = ComplaintStatus.RESOLVED.value
_c = ComplaintRow.__table__.c
_LINK_COLUMNS = (_c.source, _c.chat_id, _c.message_id, _c.chat_username)


class WindowCount(NamedTuple):
    """New complaints of one department, category and district in one window (-1 = the period)."""

    department_id: str
    category: str
    district: str | None
    window: int
    total: int


class ResolvedCount(NamedTuple):
    """Complaints of one department and category resolved in the period and in the previous one."""

    department_id: str
    category: str
    in_period: int
    in_previous: int


class OverdueCount(NamedTuple):
    """One department's complaints overdue at the end of the period and at its start."""

    department_id: str
    at_end: int
    at_start: int


class ComplaintLink(NamedTuple):
    """Where a complaint's original message is: enough for a t.me link, nothing about its author."""

    source: str
    chat_id: int
    message_id: int
    chat_username: str | None


class ListedComplaint(NamedTuple):
    """A complaint a digest lists by number: never its text, never its author."""

    id: int
    category: str
    district: str | None
    status: str
    link: ComplaintLink
    duplicate_count: int = 0


def _epoch(dialect: str, column: Any) -> ColumnElement[int]:
    """Whole UTC seconds of a timestamp column, as an integer, on SQLite and PostgreSQL."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), BigInteger)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def _scope(department_id: str | None) -> list[ColumnElement[bool]]:
    return [] if department_id is None else [_c.department_id == department_id]


def _link(row: Any, first: int) -> ComplaintLink:
    return ComplaintLink(*row[first : first + 4])


class DigestRepository:
    """Counts and capped lists for a digest over [start, end), optionally scoped to one department."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def first_created_at(self) -> datetime | None:
        """When the first complaint in the database came in (None when there is none)."""
        first: datetime | None = (
            await self._session.execute(select(func.min(_c.created_at)))
        ).scalar_one_or_none()
        return first

    async def new_by_window(
        self, *, start: datetime, end: datetime, since: datetime, window: timedelta, department_id: str | None
    ) -> list[WindowCount]:
        """Complaints created in [since, end), not rejected, by department, category, district and window.

        Window -1 is [start, end); window k >= 0 is the k-th `window`-long stretch back from `start`.
        """
        seconds = max(1, int(window.total_seconds()))
        start_epoch = math.floor(start.timestamp())
        # a subquery, so that PostgreSQL sees one bucket expression, not two with different parameters
        bucket = case(
            (_c.created_at >= start, literal(-1, Integer)),
            else_=(literal(start_epoch, BigInteger) - _epoch(self._dialect(), _c.created_at) - 1)
            // literal(seconds, BigInteger),
        )
        recent = (
            select(_c.department_id, _c.category, _c.district, bucket.label("bucket"))
            .where(
                _c.created_at >= since, _c.created_at < end, _c.status != _REJECTED, *_scope(department_id)
            )
            .subquery()
        )
        rc = recent.c
        rows = await self._session.execute(
            select(rc.department_id, rc.category, rc.district, rc.bucket, func.count()).group_by(
                rc.department_id, rc.category, rc.district, rc.bucket
            )
        )
        return [
            WindowCount(department, category, district, int(bucket_), count)
            for department, category, district, bucket_, count in rows
        ]

    async def resolved_counts(
        self, *, previous_start: datetime, start: datetime, end: datetime, department_id: str | None
    ) -> list[ResolvedCount]:
        """Resolved complaints by department and category: in [start, end) and in [previous_start, start)."""
        in_period = func.sum(case((_c.resolved_at >= start, 1), else_=0))
        in_previous = func.sum(case((_c.resolved_at < start, 1), else_=0))
        rows = await self._session.execute(
            select(_c.department_id, _c.category, in_period, in_previous)
            .where(
                _c.status == _RESOLVED,
                _c.resolved_at >= previous_start,
                _c.resolved_at < end,
                *_scope(department_id),
            )
            .group_by(_c.department_id, _c.category)
        )
        return [
            ResolvedCount(department, category, int(now or 0), int(previous or 0))
            for department, category, now, previous in rows
        ]

    async def overdue_counts(
        self, *, start: datetime, end: datetime, department_id: str | None
    ) -> list[OverdueCount]:
        """Per department, complaints overdue at `end` and at `start`: past the deadline, not yet closed."""

        def overdue_at(moment: datetime) -> ColumnElement[int]:
            late = and_(
                _c.deadline_at < moment,
                _c.created_at < moment,
                or_(_c.status.in_(OPEN_STATUSES), and_(_c.status == _RESOLVED, _c.resolved_at >= moment)),
            )
            return func.sum(case((late, 1), else_=0))

        rows = await self._session.execute(
            select(_c.department_id, overdue_at(end), overdue_at(start))
            .where(
                _c.deadline_at.is_not(None),
                _c.deadline_at < end,
                _c.status.in_((*OPEN_STATUSES, _RESOLVED)),
                *_scope(department_id),
            )
            .group_by(_c.department_id)
        )
        return [OverdueCount(department, int(now or 0), int(then or 0)) for department, now, then in rows]

    async def most_repeated(self, *, limit: int, department_id: str | None) -> list[ListedComplaint]:
        """Open complaints other residents have repeated most, most repeated first."""
        rows = await self._session.execute(
            select(_c.id, _c.category, _c.district, _c.status, _c.duplicate_count, *_LINK_COLUMNS)
            .where(_c.status.in_(OPEN_STATUSES), _c.duplicate_count > 0, *_scope(department_id))
            .order_by(_c.duplicate_count.desc(), _c.id)
            .limit(limit)
        )
        return [
            ListedComplaint(r.id, r.category, r.district, r.status, _link(r, 5), r.duplicate_count)
            for r in rows
        ]

    async def latest_linkable(
        self, *, start: datetime, end: datetime, department_id: str | None
    ) -> dict[tuple[str, str], int]:
        """The newest complaint with a group message per (category, district) among those of the period."""
        linkable = and_(_c.source != ComplaintSource.PRIVATE.value, _c.chat_id < 0)
        rows = await self._session.execute(
            select(_c.category, _c.district, func.max(_c.id))
            .where(
                _c.created_at >= start,
                _c.created_at < end,
                _c.status != _REJECTED,
                linkable,
                *_scope(department_id),
            )
            .where(_c.district.is_not(None))
            .group_by(_c.category, _c.district)
        )
        return {(category, district): number for category, district, number in rows}

    async def links(self, ids: list[int]) -> dict[int, ComplaintLink]:
        """Where each of these complaints' original messages is."""
        rows = await self._session.execute(select(_c.id, *_LINK_COLUMNS).where(_c.id.in_(ids)))
        return {r.id: _link(r, 1) for r in rows}

    def _urgent_filter(
        self, start: datetime, end: datetime, department_id: str | None
    ) -> tuple[ColumnElement[bool], ...]:
        return (
            _c.urgent.is_(True),
            _c.created_at >= start,
            _c.created_at < end,
            _c.status.not_in((_REJECTED, _DUPLICATE)),
            *_scope(department_id),
        )

    async def urgent_count(self, *, start: datetime, end: datetime, department_id: str | None) -> int:
        """Urgent complaints created in [start, end), except rejected ones and duplicates."""
        query = select(func.count()).where(*self._urgent_filter(start, end, department_id))
        total: int = (await self._session.execute(query)).scalar_one()
        return total

    async def urgent(
        self, *, start: datetime, end: datetime, department_id: str | None, limit: int
    ) -> list[ListedComplaint]:
        """Up to `limit` of those urgent complaints, open ones first, then by number."""
        closed = case((_c.status.in_(OPEN_STATUSES), 0), else_=1)
        rows = await self._session.execute(
            select(_c.id, _c.category, _c.district, _c.status, *_LINK_COLUMNS)
            .where(*self._urgent_filter(start, end, department_id))
            .order_by(closed, _c.id)
            .limit(limit)
        )
        return [ListedComplaint(r.id, r.category, r.district, r.status, _link(r, 4)) for r in rows]

    async def resolution_medians(
        self, *, start: datetime, end: datetime, department_id: str | None
    ) -> dict[str, tuple[float, int]]:
        """Per department, the median seconds to resolution of complaints resolved in [start, end), and
        how many there were; the median is taken in SQL, from the middle row(s) of each ordered group."""
        dialect = self._dialect()
        duration = (_epoch(dialect, _c.resolved_at) - _epoch(dialect, _c.created_at)).label("d")
        ordered = (
            select(
                _c.department_id,
                duration,
                func.row_number().over(partition_by=_c.department_id, order_by=duration).label("rn"),
                func.count().over(partition_by=_c.department_id).label("n"),
            )
            .where(
                _c.status == _RESOLVED, _c.resolved_at >= start, _c.resolved_at < end, *_scope(department_id)
            )
            .subquery()
        )
        middle = or_(ordered.c.rn == (ordered.c.n + 1) // 2, ordered.c.rn == (ordered.c.n + 2) // 2)
        rows = await self._session.execute(
            select(ordered.c.department_id, func.avg(ordered.c.d), func.max(ordered.c.n))
            .where(middle)
            .group_by(ordered.c.department_id)
        )
        return {department: (float(median), int(n)) for department, median, n in rows}
