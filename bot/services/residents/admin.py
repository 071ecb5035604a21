"""The city's admins in the private chat: block, unblock and erase a resident."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.core.text import parse_number
from bot.services.residents.reply import Reply
from bot.services.retention import DataEraser
from bot.views.i18n import t
from storage.uow import UnitOfWork

log = logging.getLogger("bot.services.residents")  # the name these lines have always been logged under


class ResidentAdmin:
    """/block, /unblock and /erase, for the configured admins only (the office checks who asks)."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], eraser: DataEraser) -> None:
        self._uow_factory = uow_factory
        self._eraser = eraser

    async def block(self, argument: str, block: bool, lang: str) -> Reply:
        """Block (or unblock) the resident whose Telegram id is `argument`."""
        user_id = parse_number(argument, signed=True)
        if user_id is None:
            return Reply(t("admin.usage", lang))
        async with self._uow_factory() as uow:
            await uow.residents.set_blocked(user_id, block)
            await uow.commit()
        log.info("resident %s", "blocked" if block else "unblocked", extra={"user_id": user_id})
        return Reply(t("admin.blocked" if block else "admin.unblocked", lang, user_id=user_id))

    async def erase(self, argument: str, lang: str) -> Reply:
        """Erase the personal data of the resident whose Telegram id is `argument`."""
        user_id = parse_number(argument, signed=True)
        if user_id is None:
            return Reply(t("admin.usage", lang))
        report = await self._eraser.erase_resident(user_id)
        if not report.found:
            return Reply(t("admin.erase_nothing", lang, user_id=user_id))
        lines = [
            t(
                "admin.erased",
                lang,
                user_id=user_id,
                complaints=report.complaints,
                inbox=report.inbox,
                drafts=report.drafts,
            )
        ]
        if report.open_complaints:
            lines.append(t("admin.erased_open", lang, count=report.open_complaints))
        if report.resident == "kept_blocked":
            lines.append(t("admin.erased_blocked", lang, user_id=user_id))
        return Reply("\n\n".join(lines))
