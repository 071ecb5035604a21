"""Combined messages: a busy department chat gets several new non-urgent complaints in one message.

A complaint listed there has card_state "combined" and its card_* columns point at that message, and its
"combined" event in the audit log names every complaint of the message, so the message can be
re-rendered from any of them (`find_listing`, `CombinedMessages.refresh`). While the message is being
sent they share a batch id (`card_batch`): a crash between Telegram's answer and the record leaves them
all "sending" in that batch, and they go out again together, as one message marked as a possible repeat
(`CombinedMessages.resend`), never as one card each.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import NamedTuple

from bot.config import Config
from bot.core import lifecycle
from bot.core.domain import ComplaintStatus
from bot.core.lifecycle import BEFORE_DELIVERY, LISTED, CardState
from bot.ops.retry import outlast
from bot.telegram import Keyboard, SentMessage, TelegramBadRequest, TelegramError, TelegramGateway
from bot.views.cards import CardRenderer, CombinedLine
from bot.workers.card_data import card_data
from bot.workers.delivery_stats import DeliveryStats
from storage.base import utcnow
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class Listing(NamedTuple):
    """A combined message: where it is, whose chat it was sent to, and the complaints it lists."""

    chat_id: int
    message_id: int
    department: str
    members: tuple[int, ...]


async def find_listing(uow: UnitOfWork, complaint_id: int) -> Listing | None:
    """The combined message that last listed this complaint, from its audit log."""
    for event in reversed(await uow.complaints.events(complaint_id)):
        if event.action == "combined":
            details = event.details
            return Listing(
                int(details["chat_id"]),
                int(details["message_id"]),
                str(details["department"]),
                tuple(int(n) for n in details["members"]),
            )
    return None


class _Prepared(NamedTuple):
    """A combined message marked as being sent: what goes out, and what to undo if Telegram refuses."""

    members: list[int]
    previous: dict[int, CardState | None]
    text: str
    keyboard: Keyboard | None
    earlier: set[Listing]
    repeat: bool


class CombinedMessages:
    """Sends combined messages and keeps them in step with the complaints they list."""

    def __init__(
        self,
        config: Config,
        gateway: TelegramGateway,
        renderer: CardRenderer,
        uow_factory: Callable[[], UnitOfWork],
        stats: DeliveryStats,
    ) -> None:
        self._config = config
        self._gateway = gateway
        self._renderer = renderer
        self._uow_factory = uow_factory
        self.stats = stats

    @staticmethod
    def combinable(row: ComplaintRow, department_id: str) -> bool:
        """Whether the complaint's card may go out in a combined message: new, non-urgent, never sent."""
        # "sending" (a crash mid-send) is left out: recovery sends it again with the rest of its batch
        # (`resend`), or as a card of its own, marked as a possible repeat
        return (
            row.card_state is None
            and not row.urgent
            and row.department_id == department_id
            and row.status in BEFORE_DELIVERY
        )

    async def deliver(self, complaint_ids: Sequence[int], department_id: str) -> list[int]:
        """Post one message listing these complaints; return the ones it lists (the queue entries that
        can be acked), or [] when fewer than two can still be combined (nothing was sent)."""
        async with self._uow_factory() as uow:
            rows = []
            for complaint_id in dict.fromkeys(complaint_ids):
                row = await uow.complaints.get(complaint_id)
                if row is not None and self.combinable(row, department_id):
                    rows.append(row)
            if len(rows) < 2:
                return []
            prepared = await self._prepare(uow, rows, department_id, uuid.uuid4().hex, repeat=False)
            await uow.commit()
        return await self._post(prepared, department_id)

    async def resend(self, batch: str, department_id: str) -> list[int]:
        """Send again, as one message marked as a possible repeat, the complaints a crash left "sending"
        in the combined message `batch`; return the ones it lists, or [] when fewer than two are left
        (nothing was sent: each goes as its own card)."""
        async with self._uow_factory() as uow:
            rows = [
                row
                for row in await uow.complaints.in_batch(batch)
                if row.department_id == department_id and not row.urgent  # an urgent one: its own card
            ]
            if len(rows) < 2:
                return []
            prepared = await self._prepare(uow, rows, department_id, batch, repeat=True)
            await uow.commit()
        log.warning(
            "a crash left a combined message unrecorded; sending it again, marked",
            extra={"department": department_id, "complaints": len(rows)},
        )
        return await self._post(prepared, department_id)

    async def _prepare(
        self, uow: UnitOfWork, rows: list[ComplaintRow], department_id: str, batch: str, *, repeat: bool
    ) -> _Prepared:
        """Render the message and mark its complaints as being sent in `batch` (the caller commits)."""
        lines = []
        for row in rows:
            data = await card_data(uow, row, phone=False)
            lines.append(CombinedLine(replace(data, repeat=True) if repeat else data))
        # a complaint listed before (in another department's chat, before it moved) is re-rendered there
        earlier = {listing for row in rows if (listing := await find_listing(uow, row.id))}
        text = self._renderer.render_combined(department_id, lines)
        keyboard = self._renderer.combined_keyboard(department_id, lines)
        # as for a card: a crash leaves a trace of a possible send, and the batch to send again together
        previous = {row.id: lifecycle.card_sending(row, batch) for row in rows}
        return _Prepared([row.id for row in rows], previous, text, keyboard, earlier, repeat)

    async def _post(self, prepared: _Prepared, department_id: str) -> list[int]:
        """Send a prepared message and record it; return the complaints it lists."""
        department = self._config.department(department_id)
        members = prepared.members
        try:
            sent = await self._gateway.send_message(
                department.chat_id, prepared.text, keyboard=prepared.keyboard
            )
        except TelegramError:
            async with self._uow_factory() as uow:
                for complaint_id in members:
                    row = await uow.complaints.get(complaint_id)
                    if row is not None:  # Telegram answered: nothing was posted (now)
                        lifecycle.card_not_sent(row, prepared.previous[complaint_id])
                await uow.commit()
            raise
        # as for a card: once Telegram has the message, a database outage is waited out, never resent
        record = partial(self._record, members, department_id, sent, prepared.repeat)
        cap = self._config.delivery.max_backoff_seconds
        await outlast(log, f"combined message {members}: recording it", record, cap=cap)
        self.stats.combined_messages += 1
        self.stats.combined_complaints += len(members)
        for listing in prepared.earlier:
            await self.refresh(listing, quiet=True)
        log.info(
            "combined message sent",
            extra={
                "department": department_id,
                "complaints": len(members),
                "message_id": sent.message_id,
                "repeat": prepared.repeat,
            },
        )
        return members

    async def _record(self, members: list[int], department_id: str, sent: SentMessage, repeat: bool) -> None:
        """Point every listed complaint at the combined message and mark it delivered, in one commit."""
        where = {"chat_id": sent.chat_id, "message_id": sent.message_id}
        now = utcnow()
        async with self._uow_factory() as uow:
            for complaint_id in members:
                row = await uow.complaints.get(complaint_id)
                if row is None or not lifecycle.card_combined(
                    row, sent.chat_id, sent.message_id, now, repeat=repeat
                ):
                    continue  # changed meanwhile (moved by an edit): it was queued again
                if row.status == ComplaintStatus.NEW.value:
                    await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="system")
                if row.status == ComplaintStatus.QUEUED.value:
                    await uow.complaints.change_status(
                        row, ComplaintStatus.DELIVERED, actor="system", details={**where, "combined": True}
                    )
                await uow.complaints.log(
                    row,
                    "combined",
                    actor="system",
                    details={**where, "department": department_id, "members": members},
                )
            await uow.commit()

    async def refresh(self, listing: Listing, *, uow: UnitOfWork | None = None, quiet: bool = False) -> None:
        """Re-render a combined message from its complaints' current state; `quiet`: log a failure
        instead of raising it (the message is only a listing, the complaints' cards are elsewhere)."""
        if uow is None:
            async with self._uow_factory() as own:
                lines = await self._lines(own, listing)
        else:
            lines = await self._lines(uow, listing)
        if not lines:
            return
        text = self._renderer.render_combined(listing.department, lines)
        keyboard = self._renderer.combined_keyboard(listing.department, lines)
        try:
            await self._gateway.edit_message_text(
                listing.chat_id, listing.message_id, text, keyboard=keyboard
            )
            self.stats.cards_edited += 1
        except TelegramBadRequest as exc:
            # "message is not modified" and the like: nothing to fix
            log.info("combined message %s not refreshed: %s", listing.message_id, exc.description)
        except TelegramError as exc:
            if not quiet:
                raise
            log.warning("combined message %s not refreshed: %s", listing.message_id, exc.description)

    async def _lines(self, uow: UnitOfWork, listing: Listing) -> list[CombinedLine]:
        lines = []
        for complaint_id in listing.members:
            row = await uow.complaints.get(complaint_id)
            if row is None:
                continue
            here = (row.card_chat_id, row.card_message_id) == (listing.chat_id, listing.message_id)
            if here and row.card_state in (*LISTED, CardState.SENDING):
                state = "waiting" if row.card_state == CardState.COMBINED else "opening"
            elif row.department_id != listing.department:
                state = "moved"
            else:
                state = "opened"
            lines.append(CombinedLine(await card_data(uow, row, phone=False), state))
        return lines
