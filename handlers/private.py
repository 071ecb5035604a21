"""A resident's private chat with the bot: every message is a complaint candidate."""

from __future__ import annotations

from bot.events import IncomingMessage
from bot.i18n import normalize_language, t
from bot.pipeline import IntakeResult
from handlers.context import HandlerContext


async def on_private_message(message: IncomingMessage, ctx: HandlerContext) -> IntakeResult | None:
    """Greet on /start; otherwise file the message as a complaint and tell the resident its number."""
    language = normalize_language(message.sender.language_code if message.sender else None)
    text = message.text.strip()
    if text.startswith("/start") or not text:
        await ctx.outbound.send(message.chat.id, t("private.greeting", language), html=False)
        return None
    result = await ctx.intake.submit(message, require_mention=False)
    if result.outcome == "created" and result.complaint_id is not None and result.department:
        department = ctx.renderer.department_name(result.department, language)
        reply = t("private.accepted", language, number=result.complaint_id, department=department)
        await ctx.outbound.send(message.chat.id, reply, html=False)
    elif result.outcome == "not_complaint":
        await ctx.outbound.send(message.chat.id, t("private.not_complaint", language), html=False)
    return result
