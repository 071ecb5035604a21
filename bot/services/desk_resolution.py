"""Resolving a complaint at the desk: the resolution itself, and staff replies that give its comment.

"Resolve" on a card posts a prompt (see `DeskActions`); the staff member who pressed it answers with a
reply to that very prompt, or presses "no comment".
"""

from __future__ import annotations

from collections.abc import Callable

from bot.config import DepartmentConfig
from bot.core.domain import ALLOWED_TRANSITIONS, ComplaintStatus
from bot.core.events import IncomingMessage
from bot.services.desk_access import StaffAccess
from bot.services.desk_results import DeskResult, Notice
from bot.views.i18n import t
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

_COMMENT_CHARS = 1000


async def owe(uow: UnitOfWork, notices: list[Notice]) -> list[Notice]:
    """Store the residents' notices in the action's own commit: a crash after it cannot lose them."""
    for notice in notices:
        await uow.notices.add(
            notice.complaint_id, notice.event, comment=notice.comment, original=notice.original
        )
    return notices


async def resolve(
    uow: UnitOfWork, row: ComplaintRow, user_id: int, staff: dict[str, str], comment: str | None, lang: str
) -> DeskResult:
    """Mark the complaint resolved (with its duplicates' residents told too) and commit."""
    if ComplaintStatus.RESOLVED not in ALLOWED_TRANSITIONS[ComplaintStatus(row.status)]:
        return DeskResult(t("desk.stale", lang), alert=True)
    await uow.complaints.change_status(
        row,
        ComplaintStatus.RESOLVED,
        actor="staff",
        actor_user_id=user_id,
        details={**staff, "comment": comment or ""},
    )
    merged = await uow.complaints.duplicates_of(row.id)
    await uow.desk_prompts.close(row.id)  # every prompt about it, whoever was asked
    # every resident who reported the same problem hears the resolution
    notices = await owe(
        uow, [Notice(row.id, "resolved", comment)] + [Notice(d.id, "resolved", comment) for d in merged]
    )
    await uow.commit()
    return DeskResult(t("desk.resolved", lang), refresh=[row.id], notices=notices)


class StaffReplies:
    """The prompts' messages and the replies to them in department chats."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        by_chat: dict[int, DepartmentConfig],
        access: StaffAccess,
    ) -> None:
        self._uow_factory = uow_factory
        self._by_chat = by_chat
        self._access = access

    async def prompt_sent(self, prompt_id: int, message_id: int) -> None:
        """Record which message asked for the comment: only a reply to that message can answer it."""
        async with self._uow_factory() as uow:
            await uow.desk_prompts.sent(prompt_id, message_id)
            await uow.commit()

    async def staff_reply(self, message: IncomingMessage) -> DeskResult | None:
        """A staff member's reply to the bot's prompt in the department chat: the resolution's comment.

        Only a reply to the prompt message itself, by the staff member who pressed "resolve", counts;
        any other message in the chat (a reply to a colleague, to the card, to someone else's prompt,
        or no reply at all) changes nothing and leaves the pending resolution as it is.
        """
        sender = message.sender
        department = self._by_chat.get(message.chat.id)
        reply = message.reply_to
        comment = message.text.strip()
        # an edit is not a new answer: the reply it edits was handled when it was sent
        if sender is None or department is None or reply is None or message.is_edit or not comment:
            return None
        async with self._uow_factory() as uow:
            pending = await uow.desk_prompts.answered_by(message.chat.id, reply.message_id, sender.id)
            if pending is None:
                return None
            row = await uow.complaints.get(pending.complaint_id)
            if (
                row is None
                or row.department_id != department.id
                or ComplaintStatus.RESOLVED not in ALLOWED_TRANSITIONS[ComplaintStatus(row.status)]
            ):
                # closed or moved since the prompt: it can no longer resolve anything
                await uow.desk_prompts.discard(pending.id)
                await uow.commit()
                return None
            if not await self._access.authorised(sender.id, department):
                return None
            staff = {"by": sender.full_name or str(sender.id)}
            comment = comment[:_COMMENT_CHARS]
            return await resolve(uow, row, sender.id, staff, comment, department.language)
