"""Department desk: card buttons and staff replies in department chats."""

from __future__ import annotations

import logging
from functools import partial

from bot.core.events import CallbackPress, IncomingMessage
from bot.ops.retry import outlast
from bot.services.desk_results import DeskResult
from bot.telegram import TelegramError
from bot.views.desk import picker_keyboard, prompt_text
from handlers.context import HandlerContext

log = logging.getLogger(__name__)


async def _apply(result: DeskResult, chat_id: int, card_message_id: int | None, ctx: HandlerContext) -> None:
    if result.notices:
        ctx.notices.wake()  # stored with the action; the sender delivers them, surviving a crash
    if result.picker is not None and card_message_id is not None:
        keyboard = picker_keyboard(result.picker, ctx.renderer)
        if keyboard is not None:
            await ctx.outbound.edit_keyboard(chat_id, card_message_id, keyboard)
    if result.prompt is not None:
        prompt = result.prompt
        text = prompt_text(prompt)
        sent = await ctx.outbound.send(chat_id, text, html=False, reply_to_message_id=card_message_id)
        if sent is not None:
            # only a reply to this very message completes the resolution; a prompt Telegram did not
            # take has no message to reply to, so then only the "no comment" button resolves
            record = partial(ctx.desk.prompt_sent, prompt.pending_id, sent.message_id)
            await outlast(log, f"desk prompt {prompt.pending_id}: recording", record)
    # the change is committed: if the database or Redis is away now, the card refresh waits for it
    # here (a retry of the update would find the change done and skip it)
    for complaint_id in result.refresh or []:
        await outlast(log, f"card {complaint_id}: refresh", partial(_refresh, complaint_id, ctx))
    if result.retire_card is not None:
        old_chat, old_message, text = result.retire_card
        await ctx.outbound.edit(old_chat, old_message, text)


async def _refresh(complaint_id: int, ctx: HandlerContext) -> None:
    try:
        await ctx.cards.refresh(complaint_id)
    except TelegramError as exc:
        # the department worker edits the card later, with its retries
        log.warning("card of %s not refreshed now (%s); queued for the worker", complaint_id, exc.description)
        await ctx.desk.refresh_later(complaint_id)


async def on_card_button(press: CallbackPress, ctx: HandlerContext) -> None:
    """Check and apply a card button press; answer it either way."""
    result = await ctx.desk.press(press)
    await ctx.outbound.answer_callback(press.callback_id, result.notice, alert=result.alert)
    if press.chat_id is not None:
        await _apply(result, press.chat_id, press.message_id, ctx)


async def on_staff_reply(message: IncomingMessage, ctx: HandlerContext) -> None:
    """A reply to the bot's prompt in a department chat may be the comment of a resolution."""
    result = await ctx.desk.staff_reply(message)
    if result is None:
        return
    if result.notice:
        await ctx.outbound.send(
            message.chat.id, result.notice, html=False, reply_to_message_id=message.message_id
        )
    await _apply(result, message.chat.id, None, ctx)
