"""Deadlines on a Kazakhstan working calendar, reminders before them and escalation after.

By law an appeal is answered within 15 working days; cities set shorter SLAs per department or
category, in hours or in working days (`sla_working_days`). Working days skip weekends, the public
holidays below and the config's `deadlines.holidays`, and count the Saturdays a transfer made working
(`deadlines.workdays`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Config

# Fixed-date public holidays of Kazakhstan (month, day); Kurban Ait moves and belongs in the config.
KZ_PUBLIC_HOLIDAYS: tuple[tuple[int, int], ...] = (
    (1, 1),
    (1, 2),
    (1, 7),
    (3, 8),
    (3, 21),
    (3, 22),
    (3, 23),
    (5, 1),
    (5, 7),
    (5, 9),
    (7, 6),
    (8, 30),
    (10, 25),
    (12, 16),
)
END_OF_WORKING_DAY = time(18, 0)


class WorkingCalendar:
    """Which days are working days."""

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)

    def is_working_day(self, day: date) -> bool:
        """Mon–Fri that is not a holiday, or a Saturday/Sunday made working by a transfer."""
        if day in self._workdays:
            return True
        if day in self._holidays or (day.month, day.day) in KZ_PUBLIC_HOLIDAYS:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (the day of filing does not count)."""
        current, left = start, days
        while left > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                left -= 1
        return current


class DeadlinePolicy:
    """Computes a complaint's deadline from its category or department SLA."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._tz: ZoneInfo = config.tz
        self.calendar = WorkingCalendar(config.deadlines.holidays, config.deadlines.workdays)

    def deadline(self, created_at: datetime, category_id: str, department_id: str) -> datetime | None:
        """When the answer is due (UTC), or None when neither the category nor the department sets one."""
        hours: int | None = None
        working_days: int | None = None
        try:
            category = self._config.category(category_id)
            hours, working_days = category.sla_hours, category.sla_working_days
        except KeyError:
            pass
        if hours is None and working_days is None:
            try:
                department = self._config.department(department_id)
            except KeyError:
                return None
            hours, working_days = department.sla_hours, department.sla_working_days
            if working_days is not None:
                hours = None
        if working_days is not None:
            local = created_at.astimezone(self._tz).date()
            due = self.calendar.add_working_days(local, working_days)
            return datetime.combine(due, END_OF_WORKING_DAY, tzinfo=self._tz).astimezone(UTC)
        if hours is not None:
            return created_at + timedelta(hours=hours)
        return None
