"""Following one's complaints from the private chat: /my, /status, and confirming a fix."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Config
from bot.core.domain import ComplaintStatus
from bot.core.text import parse_number
from bot.services.pipeline import ComplaintIntake
from bot.services.residents.reply import Reply
from bot.views import resident as view
from bot.views.i18n import t
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

_MY_LIMIT = 15  # complaints /my lists, newest first


class ComplaintFollowing:
    """A resident's view of their own complaints, and their answer once one is resolved."""

    def __init__(
        self, config: Config, intake: ComplaintIntake, uow_factory: Callable[[], UnitOfWork]
    ) -> None:
        self._config = config
        self._intake = intake
        self._uow_factory = uow_factory

    async def my(self, user_id: int, lang: str) -> Reply:
        """/my: the resident's latest complaints."""
        async with self._uow_factory() as uow:
            resident = await uow.residents.by_telegram_id(user_id)
            rows = list(await uow.complaints.for_resident(resident.id, limit=_MY_LIMIT)) if resident else []
        return Reply(view.my_complaints(self._config, rows, lang))

    async def status(self, user_id: int, argument: str, lang: str) -> Reply:
        """/status <number>: one of the resident's own complaints in detail."""
        number = parse_number(argument.lstrip("№#"))
        if number is None:
            return Reply(t("status.usage", lang))
        row = await self._own_complaint(user_id, number)
        if row is None:
            return Reply(t("status.not_found", lang, number=number))
        return Reply(view.complaint_status(self._config, row, lang))

    async def confirm_fix(self, user_id: int, number: int, fixed: bool, lang: str) -> list[Reply]:
        """The resident's answer to "is it fixed?": noted, or the complaint reopened."""
        row = await self._own_complaint(user_id, number)
        if row is None or row.status != ComplaintStatus.RESOLVED.value:
            return [Reply("", notice=t("confirm.stale", lang))]
        if fixed:
            async with self._uow_factory() as uow:
                complaint = await uow.complaints.get(number)
                if complaint is not None:
                    await uow.complaints.log(complaint, "confirmed", actor="resident", actor_user_id=user_id)
                    await uow.commit()
            return [Reply(t("confirm.thanks", lang), notice="👍")]
        await self._intake.reopen(number, actor_user_id=user_id)
        return [Reply(t("confirm.reopened", lang, number=number), notice="↩️")]

    async def _own_complaint(self, user_id: int, number: int) -> ComplaintRow | None:
        async with self._uow_factory() as uow:
            resident = await uow.residents.by_telegram_id(user_id)
            row = await uow.complaints.get(number)
        if resident is None or row is None or row.resident_id != resident.id:
            return None
        return row
