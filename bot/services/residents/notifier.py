"""Status notices to residents: taken, rerouted, resolved (asking whether it is fixed), rejected, merged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.config import Config
from bot.telegram import Keyboard
from bot.views import resident as view
from bot.views.i18n import DEFAULT_LANGUAGE, t
from storage.models import ResidentRow
from storage.uow import UnitOfWork


class ResidentNotifier:
    """Tells residents what happened to their complaints, in their language."""

    def __init__(
        self,
        config: Config,
        uow_factory: Callable[[], UnitOfWork],
        send: Callable[[int, str, Keyboard | None], Any],
    ) -> None:
        self._config = config
        self._uow_factory = uow_factory
        self._send = send

    async def notify(
        self, complaint_id: int, event: str, *, comment: str | None = None, original: int | None = None
    ) -> bool:
        """Send the resident a notice for `event` (taken, rerouted, resolved, rejected, merged)."""
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            resident: ResidentRow | None = (
                await uow.residents.get(row.resident_id) if row and row.resident_id else None
            )
        if row is None or resident is None or resident.blocked:
            return False
        lang = resident.language or DEFAULT_LANGUAGE
        department = self._config.department_name(row.department_id, lang)
        text = t(
            f"notify.{event}",
            lang,
            number=row.id,
            department=department,
            comment=comment or "—",
            original=original,
        )
        keyboard: Keyboard | None = None
        if event == "resolved" and self._config.residents.ask_confirmation_after_resolve:
            text = f"{text}\n\n{t('confirm.question', lang)}"
            keyboard = view.fix_question_keyboard(row.id, lang)
        await self._send(resident.telegram_user_id, text, keyboard)
        return True
