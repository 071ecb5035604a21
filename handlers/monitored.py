"""Monitored group chats and channels: a message that tags an official may become a complaint."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.core.events import IncomingMessage
from bot.services.pipeline import IntakeResult
from handlers.context import HandlerContext

log = logging.getLogger(__name__)


async def on_tagged_message(message: IncomingMessage, ctx: HandlerContext) -> IntakeResult:
    """Run the pipeline on a message from a watched chat (the router sends only those); acknowledge
    new complaints where enabled."""
    result = await ctx.intake.submit(message)
    if result.outcome == "created" and result.complaint_id is not None and result.department:
        await ctx.acknowledger.acknowledge(message, result.complaint_id, result.department)
    return result


async def on_tagged_messages(messages: Sequence[IncomingMessage], ctx: HandlerContext) -> list[IntakeResult]:
    """Run the pipeline on a run of one watched chat's messages at once; acknowledge each new complaint."""
    results = await ctx.intake.submit_many(messages)
    for message, result in zip(messages, results, strict=True):
        if result.outcome == "created" and result.complaint_id is not None and result.department:
            await ctx.acknowledger.acknowledge(message, result.complaint_id, result.department)
    return results
