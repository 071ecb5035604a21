"""The department desk: what staff do with a card's buttons, checked on the server for every press.

Callback data can be forged by any client, so each press is authorised against the complaint's
*current* department, its card and its status; a button that no longer applies says why. A complaint
listed in a combined message takes one action only, "open", which sends its own card with the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from bot.config import Config, DepartmentConfig
from bot.core import callbacks, lifecycle
from bot.core.callbacks import DeskAction
from bot.core.deadlines import DeadlinePolicy
from bot.core.domain import ALLOWED_TRANSITIONS, ComplaintStatus
from bot.core.events import CallbackPress, IncomingMessage
from bot.core.lifecycle import LISTED, ON_DESK, TAKEABLE, CardState, start_afresh
from bot.services.pipeline import Enqueuer
from bot.telegram import Button, Keyboard
from bot.views.cards import CardRenderer
from bot.views.i18n import DEFAULT_LANGUAGE, t, t_html
from bot.workers.loops import outlast
from storage.base import utcnow
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

_ADMIN_CACHE_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Notice:
    """A resident to tell about a complaint."""

    complaint_id: int
    event: str  # taken | rerouted | resolved | rejected | merged
    comment: str | None = None
    original: int | None = None


@dataclass(slots=True)
class DeskResult:
    """What the handler should do after a desk action."""

    notice: str | None = None  # answer to the press
    alert: bool = False
    refresh: list[int] | None = None  # complaints whose cards to re-render
    picker: Keyboard | None = None  # a temporary keyboard for the pressed card
    prompt: str | None = None  # a message to post in the department chat
    prompt_id: int | None = None  # the pending resolution the prompt asks about (see `prompt_sent`)
    notices: list[Notice] | None = None
    retire_card: tuple[int, int, str] | None = None  # (chat, message, text): a card left behind by a reroute


class DeskActions:
    """Take, resolve, reroute, mark duplicate, reject — with access control."""

    def __init__(
        self,
        config: Config,
        uow_factory: Callable[[], UnitOfWork],
        enqueuer: Enqueuer,
        renderer: CardRenderer,
        chat_admins: Callable[[int], Awaitable[list[int]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._deadlines = DeadlinePolicy(config)
        self._uow_factory = uow_factory
        self._enqueuer = enqueuer
        self._renderer = renderer
        self._chat_admins = chat_admins
        self._clock = clock
        self._admin_cache: dict[int, tuple[float, frozenset[int]]] = {}
        self._by_chat = {d.chat_id: d for d in config.departments}

    async def authorised(self, user_id: int, department: DepartmentConfig) -> bool:
        """Staff and the head from the config, or an administrator of the department's chat."""
        if user_id in department.staff or user_id == department.head:
            return True
        cached = self._admin_cache.get(department.chat_id)
        now = self._clock()
        if cached is None or now - cached[0] > _ADMIN_CACHE_SECONDS:
            try:
                admins = frozenset(await self._chat_admins(department.chat_id))
            except Exception as exc:  # an unreachable chat grants nothing
                log.info("could not read administrators of %s: %s", department.chat_id, exc)
                admins = frozenset()
            cached = (now, admins)
            self._admin_cache[department.chat_id] = cached
        return user_id in cached[1]

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
            return DeskResult(t("button.outdated", lang), alert=True)
        if not isinstance(button, callbacks.DeskButton) or department is None:
            return DeskResult(t("desk.stale", lang), alert=True)
        if not await self.authorised(press.sender.id, department):
            log.warning("desk press refused", extra={"user_id": press.sender.id, "chat_id": press.chat_id})
            return DeskResult(t("desk.forbidden", lang), alert=True)
        action, number, target = button.action, button.number, button.target
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(number)
            if action is DeskAction.OPEN:
                return await self._open(uow, number, row, department, press, lang)
            stale = self._stale_reason(row, department, press)
            if stale is not None or row is None:
                return DeskResult(t(stale or "desk.stale", lang, number=number), alert=True)
            staff = {"by": press.sender.full_name or str(press.sender.id)}
            status = ComplaintStatus(row.status)
            if action is DeskAction.TAKE:
                if status not in TAKEABLE:
                    return DeskResult(
                        t("desk.already", lang, status=t(f"status.{status.value}", lang)), alert=True
                    )
                await uow.complaints.change_status(
                    row,
                    ComplaintStatus.IN_PROGRESS,
                    actor="staff",
                    actor_user_id=press.sender.id,
                    details=staff,
                )
                notices = await self._owe(uow, [Notice(number, "taken")])
                await uow.commit()
                return DeskResult(t("desk.taken", lang), refresh=[number], notices=notices)
            if action is DeskAction.RESOLVE:
                if ComplaintStatus.RESOLVED not in ALLOWED_TRANSITIONS[status]:
                    return DeskResult(t("desk.stale", lang), alert=True)
                # a desk prompt of its own, never the conversation slot: the same person's private-chat
                # draft as a resident stays as it is. Pressing "resolve" on several cards keeps one
                # prompt each; pressing it again on one card asks afresh (only the new prompt answers).
                if await uow.desk_prompts.asked_by_press(press.sender.id, number, press.callback_id):
                    return DeskResult(t("desk.resolve_asked", lang))  # this very press, handled again
                pending = await uow.desk_prompts.open(
                    press.sender.id, number, department.chat_id, callback_id=press.callback_id
                )
                prompt_id = pending.id
                await uow.commit()
                return DeskResult(
                    t("desk.resolve_asked", lang),
                    prompt=t("desk.resolve_prompt", lang, number=number),
                    prompt_id=prompt_id,
                    picker=self._with_back(
                        number,
                        lang,
                        [_button(t("button.no_comment", lang), DeskAction.RESOLVE_NO_COMMENT, number)],
                    ),
                )
            if action is DeskAction.RESOLVE_NO_COMMENT:
                return await self._resolve(uow, row, press.sender.id, staff, None, lang)
            if action is DeskAction.REJECT:
                await uow.complaints.change_status(
                    row, ComplaintStatus.REJECTED, actor="staff", actor_user_id=press.sender.id, details=staff
                )
                comment = t("desk.rejected_comment", lang)
                await uow.desk_prompts.close(number)
                notices = await self._owe(uow, [Notice(number, "rejected", comment)])
                await uow.commit()
                return DeskResult(t("desk.rejected", lang), refresh=[number], notices=notices)
            if action is DeskAction.BACK:
                return DeskResult(None, picker=self._renderer.keyboard(number, row.department_id, row.status))
            if action is DeskAction.REROUTE:
                buttons = [
                    _button(d.name.get(lang), DeskAction.TO_DEPARTMENT, number, d.id)
                    for d in self._config.departments
                    if d.id != row.department_id
                ]
                return DeskResult(None, picker=self._with_back(number, lang, buttons))
            if action is DeskAction.TO_DEPARTMENT and isinstance(target, str):
                department_id = callbacks.match_id(target, (d.id for d in self._config.departments))
                if department_id is None or department_id == row.department_id:
                    return DeskResult(t("desk.stale", lang), alert=True)
                owned = [c for c in self._config.categories if c.department == department_id]
                if not owned:
                    return DeskResult(t("desk.stale", lang), alert=True)
                if len(owned) == 1:
                    return await self._reroute(uow, row, owned[0].id, press.sender.id, staff, lang)
                buttons = [_button(c.name.get(lang), DeskAction.TO_CATEGORY, number, c.id) for c in owned]
                return DeskResult(None, picker=self._with_back(number, lang, buttons))
            if action is DeskAction.TO_CATEGORY and isinstance(target, str):
                category_id = callbacks.match_id(target, (c.id for c in self._config.categories))
                if category_id is None:
                    return DeskResult(t("desk.stale", lang), alert=True)
                return await self._reroute(uow, row, category_id, press.sender.id, staff, lang)
            if action is DeskAction.DUPLICATE:
                candidates = await uow.complaints.open_in_department(
                    row.department_id, exclude=number, limit=6
                )
                if not candidates:
                    return DeskResult(t("desk.no_duplicates", lang), alert=True)
                buttons = [
                    _button(f"№{c.id}: {c.text[:28]}", DeskAction.DUPLICATE_OF, number, c.id)
                    for c in candidates
                ]
                return DeskResult(None, picker=self._with_back(number, lang, buttons))
            if action is DeskAction.DUPLICATE_OF and isinstance(target, int):
                original = await uow.complaints.get(target)
                if original is None:
                    return DeskResult(t("desk.not_found", lang, number=target), alert=True)
                if original.department_id != row.department_id or original.id == number:
                    return DeskResult(t("desk.stale", lang), alert=True)
                if ComplaintStatus(original.status) not in ON_DESK:
                    return DeskResult(t("desk.stale", lang), alert=True)
                await uow.complaints.mark_duplicate(
                    row, original, actor_user_id=press.sender.id, details=staff
                )
                await uow.desk_prompts.close(number)
                notices = await self._owe(uow, [Notice(number, "merged", original=original.id)])
                await uow.commit()
                return DeskResult(
                    t("desk.merged", lang, original=original.id),
                    refresh=[number, original.id],
                    notices=notices,
                )
        return DeskResult(t("desk.stale", lang), alert=True)

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
            return DeskResult(t("desk.not_found", lang, number=number), alert=True)
        if row.department_id != department.id:
            return DeskResult(t("desk.moved", lang), alert=True)
        listed_here = (row.card_chat_id, row.card_message_id) == (press.chat_id, press.message_id)
        if not listed_here or row.card_state not in (*LISTED, CardState.SENDING):
            return DeskResult(t("desk.stale", lang), alert=True)
        if ComplaintStatus(row.status).is_final:
            return DeskResult(t("desk.closed", lang), alert=True)
        if lifecycle.card_opening(row):  # a second press while the card is on its way changes nothing
            await uow.complaints.log(row, "opened", actor="staff", actor_user_id=press.sender.id)
            await uow.commit()
            # committed: a retry of this press would find it "opening" and queue nothing, so an
            # unreachable queue is waited out here rather than failing the press
            enqueue = partial(self._enqueuer.enqueue, row.id, department.id)
            await outlast(log, f"complaint {row.id}: queueing its card", enqueue)
        return DeskResult(t("desk.opening", lang, number=row.id), refresh=[row.id])

    @staticmethod
    async def _owe(uow: UnitOfWork, notices: list[Notice]) -> list[Notice]:
        """Store the residents' notices in the action's own commit: a crash after it cannot lose them."""
        for notice in notices:
            await uow.notices.add(
                notice.complaint_id, notice.event, comment=notice.comment, original=notice.original
            )
        return notices

    def _with_back(self, number: int, lang: str, buttons: list[Button]) -> Keyboard:
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        rows.append((_button(t("button.back", lang), DeskAction.BACK, number),))
        return tuple(rows)

    async def _resolve(
        self,
        uow: UnitOfWork,
        row: ComplaintRow,
        user_id: int,
        staff: dict[str, str],
        comment: str | None,
        lang: str,
    ) -> DeskResult:
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
        notices = await self._owe(
            uow, [Notice(row.id, "resolved", comment)] + [Notice(d.id, "resolved", comment) for d in merged]
        )
        await uow.commit()
        return DeskResult(t("desk.resolved", lang), refresh=[row.id], notices=notices)

    async def _reroute(
        self,
        uow: UnitOfWork,
        row: ComplaintRow,
        category: str,
        user_id: int,
        staff: dict[str, str],
        lang: str,
    ) -> DeskResult:
        target = self._config.category(category).department
        previous_category, previous_department = row.category, row.department_id
        if category == previous_category and target == previous_department:
            return DeskResult(None, picker=self._renderer.keyboard(row.id, row.department_id, row.status))
        row.category, row.department_id, row.needs_triage = category, target, False
        row.alternative_category, row.alternative_confidence = None, None  # staff chose: no "or" left
        old_chat, old_message = row.card_chat_id, row.card_message_id
        start_afresh(row, self._deadlines.deadline(utcnow(), category, target))
        await uow.complaints.change_status(
            row,
            ComplaintStatus.QUEUED,
            actor="staff",
            actor_user_id=user_id,
            action="rerouted",
            # the correction `shagym train` learns from
            details={
                **staff,
                "category": category,
                "previous_category": previous_category,
                "department": target,
                "previous_department": previous_department,
            },
        )
        # a prompt posted in the old chat must not resolve it, even should it come back there later
        await uow.desk_prompts.close(row.id)
        notices = await self._owe(uow, [Notice(row.id, "rerouted")] if target != previous_department else [])
        await uow.commit()
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
            if not await self.authorised(sender.id, department):
                return None
            staff = {"by": sender.full_name or str(sender.id)}
            return await self._resolve(uow, row, sender.id, staff, comment[:1000], department.language)


def _button(text: str, action: DeskAction, number: int, target: str | int | None = None) -> Button:
    return Button(text, callback_data=callbacks.pack(callbacks.DeskButton(action, number, target)))
