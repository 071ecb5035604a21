"""Monitored group chats and channels: a message that tags an official may become a complaint."""

from __future__ import annotations

import logging

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
