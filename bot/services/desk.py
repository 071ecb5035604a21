"""The department desk: what staff do with a card's buttons, checked on the server for every press.

Callback data can be forged by any client, so each press is authorised against the complaint's
*current* department, its card and its status; a button that no longer applies says why. A complaint
listed in a combined message takes one action only, "open", which sends its own card with the rest.
The desk says what to show (`bot/services/desk_results.py`); `bot/views/desk.py` builds it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.config import Config, DepartmentConfig
from bot.core import callbacks, lifecycle
from bot.core.callbacks import DeskAction
from bot.core.deadlines import DeadlinePolicy
from bot.core.domain import ALLOWED_TRANSITIONS, ComplaintStatus
from bot.core.events import CallbackPress, IncomingMessage
from bot.core.lifecycle import LISTED, ON_DESK, TAKEABLE, CardState, start_afresh
from bot.ops.retry import outlast
from bot.services.desk_access import StaffAccess
from bot.services.desk_resolution import StaffReplies, owe, resolve
from bot.services.desk_results import DeskResult, Notice
from bot.services.pipeline import Enqueuer
from bot.views.desk import CardButtons, Picker, PickerKind, Prompt
from bot.views.i18n import DEFAULT_LANGUAGE, t, t_html
from storage.base import utcnow
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

__all__ = ["DeskActions", "DeskResult", "Notice"]

log = logging.getLogger(__name__)

_DUPLICATE_CANDIDATES = 6


@dataclass(frozen=True, slots=True)
class _Press:
    """An authorised press on a live card of this department: what every desk step works with."""

    uow: UnitOfWork
    row: ComplaintRow
    number: int
    target: str | int | None
    press: CallbackPress
    department: DepartmentConfig
    lang: str
    staff: dict[str, str]  # who acted, for the complaint's log


def _refused(key: str, lang: str, **values: Any) -> DeskResult:
    """A press answered with an alert and nothing done."""
    return DeskResult(t(key, lang, **values), alert=True)


class DeskActions:
    """Take, resolve, reroute, mark duplicate, reject — with access control."""

    def __init__(
        self,
        config: Config,
        uow_factory: Callable[[], UnitOfWork],
        enqueuer: Enqueuer,
        chat_admins: Callable[[int], Awaitable[list[int]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._deadlines = DeadlinePolicy(config)
        self._uow_factory = uow_factory
        self._enqueuer = enqueuer
        self._by_chat = {d.chat_id: d for d in config.departments}
        self._access = StaffAccess(chat_admins, clock=clock)
        self._replies = StaffReplies(uow_factory, self._by_chat, self._access)
        # what each button of a live card does; "open" (a combined message's button) is checked apart
        self._steps: dict[DeskAction, Callable[[_Press], Awaitable[DeskResult]]] = {
            DeskAction.TAKE: self._take,
            DeskAction.RESOLVE: self._ask_resolution,
            DeskAction.RESOLVE_NO_COMMENT: self._resolve_without_comment,
            DeskAction.REJECT: self._reject,
            DeskAction.BACK: self._back,
            DeskAction.REROUTE: self._pick_department,
            DeskAction.TO_DEPARTMENT: self._to_department,
            DeskAction.TO_CATEGORY: self._to_category,
            DeskAction.DUPLICATE: self._pick_original,
            DeskAction.DUPLICATE_OF: self._duplicate_of,
        }

    async def authorised(self, user_id: int, department: DepartmentConfig) -> bool:
        """Staff and the head from the config, or an administrator of the department's chat."""
        return await self._access.authorised(user_id, department)

    async def refresh_later(self, complaint_id: int) -> None:
        """Queue a card that could not be edited now: the department's worker edits it, with retries."""
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
        if row is not None:
            await self._enqueuer.enqueue(row.id, row.department_id)

    async def press(self, press: CallbackPress) -> DeskResult:
        """Apply one card button press, after checking who pressed what where."""
        button = callbacks.parse(press.data)
        department = self._by_chat.get(press.chat_id or 0)
        lang = department.language if department else DEFAULT_LANGUAGE
        if isinstance(button, callbacks.OutdatedButton) and department is not None:
            return _refused("button.outdated", lang)
        if not isinstance(button, callbacks.DeskButton) or department is None:
            return _refused("desk.stale", lang)
        if not await self.authorised(press.sender.id, department):
            log.warning("desk press refused", extra={"user_id": press.sender.id, "chat_id": press.chat_id})
            return _refused("desk.forbidden", lang)
        number = button.number
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(number)
            if button.action is DeskAction.OPEN:
                return await self._open(uow, number, row, department, press, lang)
            stale = self._stale_reason(row, department, press)
            step = self._steps.get(button.action)
            if stale is not None or row is None or step is None:
                return _refused(stale or "desk.stale", lang, number=number)
            staff = {"by": press.sender.full_name or str(press.sender.id)}
            return await step(_Press(uow, row, number, button.target, press, department, lang, staff))

    def _stale_reason(
        self, row: ComplaintRow | None, department: DepartmentConfig, press: CallbackPress
    ) -> str | None:
        if row is None:
            return "desk.not_found"
        if row.department_id != department.id:
            return "desk.moved"
        if row.card_message_id is not None and press.message_id != row.card_message_id:
            return "desk.stale"
        if row.card_state in LISTED or (row.card_state == CardState.SENDING and row.card_message_id):
            # card_* point at a combined message (its own card may be on the way): that message has
            # only "open" buttons, so anything else pressed there is forged
            return "desk.stale"
        if ComplaintStatus(row.status).is_final:
            return "desk.closed"
        return None

    async def _open(
        self,
        uow: UnitOfWork,
        number: int,
        row: ComplaintRow | None,
        department: DepartmentConfig,
        press: CallbackPress,
        lang: str,
    ) -> DeskResult:
        """Staff want the full card of a complaint listed in a combined message: queue it (the worker
        sends it within the chat's budget, then marks its line) and take the button off at once."""
        if row is None:
            return _refused("desk.not_found", lang, number=number)
        if row.department_id != department.id:
            return _refused("desk.moved", lang)
        listed_here = (row.card_chat_id, row.card_message_id) == (press.chat_id, press.message_id)
        if not listed_here or row.card_state not in (*LISTED, CardState.SENDING):
            return _refused("desk.stale", lang)
        if ComplaintStatus(row.status).is_final:
            return _refused("desk.closed", lang)
        if lifecycle.card_opening(row):  # a second press while the card is on its way changes nothing
            await uow.complaints.log(row, "opened", actor="staff", actor_user_id=press.sender.id)
            await uow.commit()
            # committed: a retry of this press would find it "opening" and queue nothing, so an
            # unreachable queue is waited out here rather than failing the press
            enqueue = partial(self._enqueuer.enqueue, row.id, department.id)
            await outlast(log, f"complaint {row.id}: queueing its card", enqueue)
        return DeskResult(t("desk.opening", lang, number=row.id), refresh=[row.id])

    async def _take(self, p: _Press) -> DeskResult:
        status = ComplaintStatus(p.row.status)
        if status not in TAKEABLE:
            return _refused("desk.already", p.lang, status=t(f"status.{status.value}", p.lang))
        await p.uow.complaints.change_status(
            p.row,
            ComplaintStatus.IN_PROGRESS,
            actor="staff",
            actor_user_id=p.press.sender.id,
            details=p.staff,
        )
        notices = await owe(p.uow, [Notice(p.number, "taken")])
        await p.uow.commit()
        return DeskResult(t("desk.taken", p.lang), refresh=[p.number], notices=notices)

    async def _ask_resolution(self, p: _Press) -> DeskResult:
        if ComplaintStatus.RESOLVED not in ALLOWED_TRANSITIONS[ComplaintStatus(p.row.status)]:
            return _refused("desk.stale", p.lang)
        # a desk prompt of its own, never the conversation slot: the same person's private-chat
        # draft as a resident stays as it is. Pressing "resolve" on several cards keeps one
        # prompt each; pressing it again on one card asks afresh (only the new prompt answers).
        prompts, sender = p.uow.desk_prompts, p.press.sender.id
        if await prompts.asked_by_press(sender, p.number, p.press.callback_id):
            return DeskResult(t("desk.resolve_asked", p.lang))  # this very press, handled again
        pending = await prompts.open(sender, p.number, p.department.chat_id, callback_id=p.press.callback_id)
        prompt_id = pending.id
        await p.uow.commit()
        return DeskResult(
            t("desk.resolve_asked", p.lang),
            prompt=Prompt(prompt_id, p.number, p.lang),
            picker=Picker(PickerKind.RESOLVE, p.number, p.lang),
        )

    async def _resolve_without_comment(self, p: _Press) -> DeskResult:
        return await resolve(p.uow, p.row, p.press.sender.id, p.staff, None, p.lang)

    async def _reject(self, p: _Press) -> DeskResult:
        await p.uow.complaints.change_status(
            p.row, ComplaintStatus.REJECTED, actor="staff", actor_user_id=p.press.sender.id, details=p.staff
        )
        comment = t("desk.rejected_comment", p.lang)
        await p.uow.desk_prompts.close(p.number)
        notices = await owe(p.uow, [Notice(p.number, "rejected", comment)])
        await p.uow.commit()
        return DeskResult(t("desk.rejected", p.lang), refresh=[p.number], notices=notices)

    async def _back(self, p: _Press) -> DeskResult:
        return DeskResult(None, picker=CardButtons(p.number, p.row.department_id, p.row.status))

    async def _pick_department(self, p: _Press) -> DeskResult:
        options = tuple(
            (d.id, d.name.get(p.lang)) for d in self._config.departments if d.id != p.row.department_id
        )
        return DeskResult(None, picker=Picker(PickerKind.DEPARTMENT, p.number, p.lang, options))

    async def _to_department(self, p: _Press) -> DeskResult:
        if not isinstance(p.target, str):
            return _refused("desk.stale", p.lang)
        department_id = callbacks.match_id(p.target, (d.id for d in self._config.departments))
        if department_id is None or department_id == p.row.department_id:
            return _refused("desk.stale", p.lang)
        owned = [c for c in self._config.categories if c.department == department_id]
        if not owned:
            return _refused("desk.stale", p.lang)
        if len(owned) == 1:
            return await self._reroute(p, owned[0].id)
        options = tuple((c.id, c.name.get(p.lang)) for c in owned)
        return DeskResult(None, picker=Picker(PickerKind.CATEGORY, p.number, p.lang, options))

    async def _to_category(self, p: _Press) -> DeskResult:
        if not isinstance(p.target, str):
            return _refused("desk.stale", p.lang)
        category_id = callbacks.match_id(p.target, (c.id for c in self._config.categories))
        if category_id is None:
            return _refused("desk.stale", p.lang)
        return await self._reroute(p, category_id)

    async def _pick_original(self, p: _Press) -> DeskResult:
        candidates = await p.uow.complaints.open_in_department(
            p.row.department_id, exclude=p.number, limit=_DUPLICATE_CANDIDATES
        )
        if not candidates:
            return _refused("desk.no_duplicates", p.lang)
        options = tuple((c.id, c.text) for c in candidates)  # the view shows the number and a piece
        return DeskResult(None, picker=Picker(PickerKind.DUPLICATE, p.number, p.lang, options))

    async def _duplicate_of(self, p: _Press) -> DeskResult:
        if not isinstance(p.target, int):
            return _refused("desk.stale", p.lang)
        original = await p.uow.complaints.get(p.target)
        if original is None:
            return _refused("desk.not_found", p.lang, number=p.target)
        if original.department_id != p.row.department_id or original.id == p.number:
            return _refused("desk.stale", p.lang)
        if ComplaintStatus(original.status) not in ON_DESK:
            return _refused("desk.stale", p.lang)
        await p.uow.complaints.mark_duplicate(
            p.row, original, actor_user_id=p.press.sender.id, details=p.staff
        )
        await p.uow.desk_prompts.close(p.number)
        notices = await owe(p.uow, [Notice(p.number, "merged", original=original.id)])
        await p.uow.commit()
        return DeskResult(
            t("desk.merged", p.lang, original=original.id), refresh=[p.number, original.id], notices=notices
        )

    async def _reroute(self, p: _Press, category: str) -> DeskResult:
        row, lang = p.row, p.lang
        target = self._config.category(category).department
        previous_category, previous_department = row.category, row.department_id
        if category == previous_category and target == previous_department:
            return DeskResult(None, picker=CardButtons(row.id, row.department_id, row.status))
        row.category, row.department_id, row.needs_triage = category, target, False
        row.alternative_category, row.alternative_confidence = None, None  # staff chose: no "or" left
        old_chat, old_message = row.card_chat_id, row.card_message_id
        start_afresh(row, self._deadlines.deadline(utcnow(), category, target))
        await p.uow.complaints.change_status(
            row,
            ComplaintStatus.QUEUED,
            actor="staff",
            actor_user_id=p.press.sender.id,
            action="rerouted",
            # the correction `shagym train` learns from
            details={
                **p.staff,
                "category": category,
                "previous_category": previous_category,
                "department": target,
                "previous_department": previous_department,
            },
        )
        # a prompt posted in the old chat must not resolve it, even should it come back there later
        await p.uow.desk_prompts.close(row.id)
        notices = await owe(p.uow, [Notice(row.id, "rerouted")] if target != previous_department else [])
        await p.uow.commit()
        await self._enqueuer.enqueue(row.id, target)
        department_name = self._config.department(target).name.get(lang)
        retire = None
        if old_chat is not None and old_message is not None:
            retire = (
                old_chat,
                old_message,
                t_html("desk.moved_card", lang, number=row.id, department=department_name),  # an HTML edit
            )
        return DeskResult(
            t("desk.rerouted", lang, department=department_name),
            notices=notices or None,
            retire_card=retire,
        )

    async def prompt_sent(self, prompt_id: int, message_id: int) -> None:
        """Record which message asked for the comment: only a reply to that message can answer it."""
        await self._replies.prompt_sent(prompt_id, message_id)

    async def staff_reply(self, message: IncomingMessage) -> DeskResult | None:
        """A reply to the bot's prompt in a department chat: a resolution's comment (see `StaffReplies`)."""
        return await self._replies.staff_reply(message)
