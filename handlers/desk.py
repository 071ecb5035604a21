"""Department desk buttons on complaint cards."""

from __future__ import annotations

import logging

from bot.events import CallbackPress
from bot.i18n import normalize_language, t
from handlers.context import HandlerContext

log = logging.getLogger(__name__)


async def on_card_button(press: CallbackPress, ctx: HandlerContext) -> None:
    """Answer a card button press; the desk actions themselves are not built yet (issue #6)."""
    language = normalize_language(press.sender.language_code)
    log.info("card button pressed", extra={"data": press.data[:64], "user_id": press.sender.id})
    await ctx.outbound.answer_callback(press.callback_id, t("desk.not_available", language))
