"""Service events for the city's admin: which chats the bot was added to or removed from."""

from __future__ import annotations

import logging

from bot.core.events import IncomingMessage, MembershipChange
from handlers.context import HandlerContext
from storage.base import utcnow

log = logging.getLogger(__name__)


async def on_membership_change(change: MembershipChange, ctx: HandlerContext) -> None:
    """Log the chat id and the bot's new status, so the admin can put the id into the config."""
    chat = change.chat
    chat_id = chat.id if chat is not None else None
    log.info(
        "bot membership changed: chat %s (%s) is now %s",
        chat_id,
        chat.type if chat is not None else None,
        change.new_status,
        extra={"chat_id": chat_id, "chat_title": chat.title if chat is not None else None},
    )
    # the parser checked the chat as a message's: ids in range, strings only, lengths within limits
    if chat is not None and not chat.is_private:
        async with ctx.unit_of_work() as uow:
            await uow.chats.upsert_seen(chat.id, type=chat.type, title=chat.title, username=chat.username)
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
