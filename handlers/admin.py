"""Service events for the city's admin: which chats the bot was added to or removed from."""

from __future__ import annotations

import logging
from typing import Any

from bot.core.events import IncomingMessage, MalformedUpdate, parse_chat
from handlers.context import HandlerContext
from storage.base import utcnow

log = logging.getLogger(__name__)


async def on_membership_change(update: dict[str, Any], ctx: HandlerContext) -> None:
    """Log the chat id and the bot's new status, so the admin can put the id into the config."""
    change = update.get("my_chat_member")
    if not isinstance(change, dict):
        return
    chat: dict[str, Any] = change["chat"] if isinstance(change.get("chat"), dict) else {}
    member = change.get("new_chat_member")
    status = member.get("status") if isinstance(member, dict) else None
    chat_id = chat.get("id")
    log.info(
        "bot membership changed: chat %s (%s) is now %s",
        chat_id,
        chat.get("type"),
        status,
        extra={"chat_id": chat_id, "chat_title": chat.get("title")},
    )
    try:  # the same checks as for a message's chat: ids in range, strings only, lengths within limits
        seen = parse_chat(chat)
    except MalformedUpdate:
        return
    if not seen.is_private:
        async with ctx.unit_of_work() as uow:
            await uow.chats.upsert_seen(seen.id, type=seen.type, title=seen.title, username=seen.username)
            await uow.commit()


async def on_digest_command(message: IncomingMessage, ctx: HandlerContext) -> bool:
    """/digest in an official's, a head's, a department's or an allowed chat: send a digest now."""
    if ctx.digests is None:
        return False
    recipient = ctx.digests.recipient_for_chat(message.chat.id)
    if recipient is None:
        return False
    await ctx.digests.send_now(recipient, utcnow())
    return True
