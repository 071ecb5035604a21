"""Reminders before a deadline and escalation after it: first the department head, then the official."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.config import Config, OfficialConfig
from bot.telegram.outbound import Outbound
from bot.views.i18n import DEFAULT_LANGUAGE, t
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class EscalationJob:
    """One pass over open complaints: remind, escalate to heads, escalate to officials."""

    def __init__(self, config: Config, uow_factory: Callable[[], UnitOfWork], outbound: Outbound) -> None:
        self._config = config
        self._uow_factory = uow_factory
        self._outbound = outbound
        self._settings = config.deadlines

    def _local(self, moment: datetime | None) -> str:
        return moment.astimezone(self._config.tz).strftime("%d.%m %H:%M") if moment else "—"

    def _department(self, row: ComplaintRow) -> tuple[str, int, int | None, str]:
        department = self._config.department(row.department_id)
        return (
            department.name.get(department.language),
            department.chat_id,
            department.head,
            department.language,
        )

    def _official_chat(self, row: ComplaintRow) -> tuple[int, str] | None:
        """The tagged official's digest chat (or account); otherwise the first official with a digest."""
        by_id = {o.id: o for o in self._config.officials}
        tagged: list[OfficialConfig] = [by_id[o] for o in row.officials or [] if o in by_id]
        for official in [*tagged, *self._config.officials]:
            if official.digest is not None:
                return official.digest.chat_id, official.digest.language
            if official in tagged and official.user_ids:
                return official.user_ids[0], DEFAULT_LANGUAGE
        return None

    async def run(self, now: datetime) -> dict[str, int]:
        """Send what is due at `now`; returns how many of each kind went out."""
        counts = {"reminded": 0, "head": 0, "official": 0}
        async with self._uow_factory() as uow:
            due = list(
                await uow.complaints.due_for_reminder(
                    now, timedelta(hours=self._settings.remind_before_hours)
                )
            )
            overdue = list(await uow.complaints.overdue(now, below_level=1, older_than=timedelta(0)))
            late = list(
                await uow.complaints.overdue(
                    now,
                    below_level=2,
                    older_than=timedelta(hours=self._settings.escalate_to_official_after_hours),
                )
            )
        for row in due:
            name, chat_id, _, lang = self._department(row)
            text = t("deadline.reminder", lang, number=row.id, due=self._local(row.deadline_at))
            await self._outbound.send(chat_id, text, html=False, reply_to_message_id=row.card_message_id)
            await self._mark(row.id, reminded=now)
            counts["reminded"] += 1
        for row in overdue:
            name, _, head, lang = self._department(row)
            if head is not None:
                text = t(
                    "deadline.overdue_head",
                    lang,
                    number=row.id,
                    department=name,
                    due=self._local(row.deadline_at),
                )
                await self._outbound.send(head, text, html=False)
            await self._mark(row.id, level=1, now=now)
            counts["head"] += 1
        for row in late:
            if row.escalation_level < 1:
                continue  # the head hears first, in this pass; the official in a later one
            target = self._official_chat(row)
            name, _, _, _ = self._department(row)
            if target is not None:
                chat_id, lang = target
                category = self._config.category_name(row.category, lang)
                text = t(
                    "deadline.overdue_official",
                    lang,
                    number=row.id,
                    department=self._config.department_name(row.department_id, lang),
                    category=category,
                    hours=int(self._settings.escalate_to_official_after_hours),
                    escalated=self._local(row.escalated_at),
                )
                await self._outbound.send(chat_id, text, html=False)
            await self._mark(row.id, level=2, now=now)
            counts["official"] += 1
        if any(counts.values()):
            log.info("deadline pass", extra=counts)
        return counts

    async def _mark(
        self,
        complaint_id: int,
        *,
        reminded: datetime | None = None,
        level: int | None = None,
        now: datetime | None = None,
    ) -> None:
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is None:
                return
            if reminded is not None:
                row.reminded_at = reminded
                await uow.complaints.log(row, "reminded", actor="system")
            if level is not None:
                row.escalation_level = level
                row.escalated_at = now
                await uow.complaints.log(row, "escalated", actor="system", details={"level": level})
            await uow.commit()
