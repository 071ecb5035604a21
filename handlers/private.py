"""A resident's private chat with the bot: filing, following and confirming complaints."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.events import CallbackPress, IncomingMessage
from bot.services.residents import Reply
from handlers.context import HandlerContext


async def _send_replies(chat_id: int, replies: list[Reply], ctx: HandlerContext) -> None:
    for reply in replies:
        if not reply.text:
            continue
        if reply.edit_message_id is not None and await ctx.outbound.edit(
            chat_id, reply.edit_message_id, reply.text, keyboard=reply.keyboard, html=False
        ):
            if reply.draft_id is not None:  # the summary is still on screen: edit it again next time
                await ctx.residents.remember_summary(chat_id, reply.draft_id, reply.edit_message_id)
            continue
        sent = await ctx.outbound.send(
            chat_id, reply.text, keyboard=reply.keyboard, reply_keyboard=reply.reply_keyboard, html=False
        )
        if sent is not None and reply.draft_id is not None:
            await ctx.residents.remember_summary(chat_id, reply.draft_id, sent.message_id)


async def on_private_message(message: IncomingMessage, ctx: HandlerContext) -> None:
    """Pass a private message to the front office and send what it answers."""
    replies = await ctx.residents.on_message(message)
    await _send_replies(message.chat.id, replies, ctx)


async def on_private_messages(messages: Sequence[IncomingMessage], ctx: HandlerContext) -> None:
    """Pass a burst of one chat's private messages to the front office; send its one answer."""
    if not messages:
        return
    replies = await ctx.residents.on_messages(messages)
    await _send_replies(messages[0].chat.id, replies, ctx)


async def on_resident_button(press: CallbackPress, ctx: HandlerContext) -> None:
    """Pass a press of a private-chat button to the front office; answer the press and the chat."""
    replies = await ctx.residents.on_button(press)
    notice = next((r.notice for r in replies if r.notice), None)
    await ctx.outbound.answer_callback(press.callback_id, notice)
    await _send_replies(press.chat_id or press.sender.id, replies, ctx)
