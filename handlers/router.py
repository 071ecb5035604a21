"""Which handler gets an event, decided in this one place.

The inbox hands every parsed event to `Router.route`; the ingress asks the same router where a message
would go, and keeps it only if that handler would act on it (`bot/ingress/receiver.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from bot.config import Config
from bot.core import callbacks
from bot.core.events import CallbackPress, Event, IncomingMessage, MembershipChange, is_digest_command
from handlers.admin import on_digest_command, on_membership_change
from handlers.context import HandlerContext
from handlers.desk import on_card_button, on_staff_reply
from handlers.monitored import on_tagged_message, on_tagged_messages
from handlers.private import on_private_message, on_resident_button


class Destination(Enum):
    """Where a message goes (a /digest in a digest chat is tried first, wherever it was sent)."""

    RESIDENT = "resident"  # a private chat: the residents' office
    DESK = "desk"  # a department chat: a staff reply
    INTAKE = "intake"  # a watched chat: the complaint pipeline
    NOWHERE = "nowhere"  # any other chat


class Router:
    """Routes events to handlers, with the config's chat sets built once."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._department_chats = config.department_chats()
        self._digest_chats = config.digest_chats()

    def destination(self, message: IncomingMessage) -> Destination:
        """The handler a message goes to (after /digest, see `asks_for_digest`)."""
        if message.chat.is_private:
            return Destination.RESIDENT
        if message.chat.id in self._department_chats:
            return Destination.DESK
        if self._config.watch.watches(message.chat.id):
            return Destination.INTAKE
        return Destination.NOWHERE

    def asks_for_digest(self, message: IncomingMessage) -> bool:
        """A /digest in a chat where it may work (the digest service decides whom it is for)."""
        return message.chat.id in self._digest_chats and is_digest_command(message.text)

    def for_intake(self, event: Event) -> IncomingMessage | None:
        """The event when it is a message for intake, which may be handled in a run with its neighbours."""
        if not isinstance(event, IncomingMessage) or self.asks_for_digest(event):
            return None
        return event if self.destination(event) is Destination.INTAKE else None

    async def route_intake_run(self, messages: Sequence[IncomingMessage], ctx: HandlerContext) -> None:
        """Hand a run of one chat's messages for intake (see `for_intake`) to its handler at once."""
        await on_tagged_messages(messages, ctx)

    async def route(self, event: Event, ctx: HandlerContext) -> None:
        """Hand an event to the one handler that takes it; other kinds of update are done with."""
        if isinstance(event, IncomingMessage):
            await self._message(event, ctx)
        elif isinstance(event, CallbackPress):
            if callbacks.for_resident(event.data):
                await on_resident_button(event, ctx)
            else:
                await on_card_button(event, ctx)
        elif isinstance(event, MembershipChange):
            await on_membership_change(event, ctx)

    async def _message(self, message: IncomingMessage, ctx: HandlerContext) -> None:
        if self.asks_for_digest(message) and await on_digest_command(message, ctx):
            return  # a /digest no one gets a digest for goes on like any other message
        destination = self.destination(message)
        if destination is Destination.RESIDENT:
            await on_private_message(message, ctx)
        elif destination is Destination.DESK:
            await on_staff_reply(message, ctx)
        elif destination is Destination.INTAKE:
            await on_tagged_message(message, ctx)
