"""Filing a complaint in the private chat: the draft grows message by message, then is sent.

Each message goes into the stored draft; its summary (edited while still on screen) shows where the
complaint would go, with buttons to send it, change its category or cancel it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.classifier.base import MessageContext
from bot.config import Config
from bot.core import callbacks
from bot.core.callbacks import ResidentAction, ResidentButton
from bot.core.events import CallbackPress, IncomingMessage, User
from bot.core.text import utf16_len
from bot.services.pipeline import ComplaintIntake, Draft
from bot.services.residents.drafts import DRAFT_STATE, DraftState, ShowDraft, Step, stored_draft
from bot.services.residents.reply import Reply
from bot.views import resident as view
from bot.views.i18n import t
from storage.uow import UnitOfWork

# a summary shown this recently is edited as the draft grows; an older one has scrolled away: a new one
_SUMMARY_EDIT_WINDOW = timedelta(minutes=2)


class DraftFiling:
    """The draft's use cases: add a message, show the summary, and the summary's buttons."""

    def __init__(
        self,
        config: Config,
        intake: ComplaintIntake,
        uow_factory: Callable[[], UnitOfWork],
        clock: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._limits = config.residents
        self._intake = intake
        self._uow_factory = uow_factory
        self._clock = clock

    async def add(self, message: IncomingMessage, sender: User, lang: str) -> list[Step]:
        """Take a message into the resident's draft (starting one); show the summary once it has text."""
        text = message.text.strip()
        if utf16_len(text) > self._limits.max_text_length:
            return [Reply(t("draft.too_long", lang, limit=self._limits.max_text_length))]
        async with self._uow_factory() as uow:
            draft = stored_draft(await uow.conversations.get(sender.id)) or DraftState(
                draft_id=message.message_id
            )
            if (
                not message.is_edit
                and draft.last_message_id is not None
                and message.message_id <= draft.last_message_id
            ):
                # handled before (a crash between the draft's update and the row's): it is in already
                return [ShowDraft(draft, lang)] if len(draft.text) >= self._limits.min_text_length else []
            if text:
                combined = f"{draft.text}\n{text}".strip() if draft.text else text
                if utf16_len(combined) > self._limits.max_text_length:
                    return [Reply(t("draft.too_long", lang, limit=self._limits.max_text_length))]
                draft.text = combined
            if message.photos:
                if len(draft.photos) + len(message.photos) > self._limits.max_photos:
                    return [Reply(t("draft.too_many_photos", lang, limit=self._limits.max_photos))]
                draft.photos.extend(message.photos)
            if message.location is not None:
                draft.location = (message.location.latitude, message.location.longitude)
            if not message.is_edit:
                draft.last_message_id = message.message_id
            await uow.conversations.save(sender.id, DRAFT_STATE, draft.to_json())
            await uow.commit()
        if len(draft.text) < self._limits.min_text_length:
            key = "draft.need_text" if message.location is not None and not draft.text else "draft.too_short"
            return [Reply(t(key, lang))]
        return [ShowDraft(draft, lang)]

    async def cancel(self, user_id: int) -> None:
        """Forget the resident's draft."""
        async with self._uow_factory() as uow:
            await uow.conversations.clear(user_id)
            await uow.commit()

    def _shown_summary(self, draft: DraftState) -> int | None:
        """The message showing the draft's summary, if it was sent or edited recently enough to edit."""
        if draft.summary_message_id is None or draft.summary_at is None:
            return None
        try:
            shown = datetime.fromisoformat(draft.summary_at)
        except ValueError:
            return None
        if self._clock() - shown > _SUMMARY_EDIT_WINDOW:
            return None
        return draft.summary_message_id

    async def summary(self, draft: DraftState, lang: str, *, edit: int | None = None) -> Reply:
        """The draft's summary with its buttons, editing `edit` (default: the summary on screen, if any)."""
        context = MessageContext(*draft.location) if draft.location else None
        verdict = await self._intake.classify_text(draft.text, context)
        category = draft.category or verdict.category
        shown = view.DraftSummary(
            draft_id=draft.draft_id,
            text=draft.text,
            photos=len(draft.photos),
            has_location=draft.location is not None,
            category=category,
            department=self._intake.department_for(category, verdict.department),
            district=verdict.district,
            doubt=not verdict.complaint and draft.category is None,
        )
        text, keyboard = view.draft_summary(self._config, shown, lang)
        if edit is None:
            edit = self._shown_summary(draft)
        return Reply(text, keyboard=keyboard, edit_message_id=edit, draft_id=draft.draft_id)

    async def remember_summary(self, user_id: int, draft_id: int, message_id: int) -> None:
        """Note which bot message shows the draft, and when, so changes soon after edit it."""
        async with self._uow_factory() as uow:
            draft = stored_draft(await uow.conversations.get(user_id))
            if draft is None or draft.draft_id != draft_id:
                return
            draft.summary_message_id = message_id
            draft.summary_at = self._clock().isoformat()
            await uow.conversations.save(user_id, DRAFT_STATE, draft.to_json())
            await uow.commit()

    async def on_button(self, press: CallbackPress, button: ResidentButton, lang: str) -> list[Reply]:
        """A press of a draft summary's button (or its category picker's) for draft `button.number`."""
        draft_id = button.number
        async with self._uow_factory() as uow:
            draft = stored_draft(await uow.conversations.get(press.sender.id))
        if draft is None or draft.draft_id != draft_id:
            return [Reply("", notice=t("draft.expired", lang))]
        action = button.action
        if action is ResidentAction.CANCEL:
            await self.cancel(press.sender.id)
            return [Reply(t("draft.cancelled", lang), edit_message_id=press.message_id, notice="✖️")]
        if action is ResidentAction.CHANGE_CATEGORY:
            picker = view.category_picker(self._config, draft_id, lang)
            return [Reply(t("draft.pick_category", lang), keyboard=picker, edit_message_id=press.message_id)]
        if action is ResidentAction.SET_CATEGORY and button.target is not None:
            category_id = callbacks.match_id(button.target, (c.id for c in self._config.categories))
            if category_id is None:
                return [Reply("", notice=t("confirm.stale", lang))]
            draft.category = category_id
            draft.summary_message_id = press.message_id
            draft.summary_at = self._clock().isoformat()
            async with self._uow_factory() as uow:
                await uow.conversations.save(press.sender.id, DRAFT_STATE, draft.to_json())
                await uow.commit()
            return [await self.summary(draft, lang, edit=press.message_id)]
        if action is ResidentAction.SEND:
            return await self._send(press, draft, lang)
        return [Reply("", notice=t("confirm.stale", lang))]

    async def _send(self, press: CallbackPress, draft: DraftState, lang: str) -> list[Reply]:
        now = self._clock()
        async with self._uow_factory() as uow:
            resident = await uow.residents.get_or_create(press.sender.id)
            recent = await uow.complaints.recent_for_resident(resident.id, since=now - timedelta(hours=1))
        if len(recent) >= self._limits.max_complaints_per_hour:
            free_at = min(recent) + timedelta(hours=1)
            when = free_at.astimezone(self._config.tz).strftime("%H:%M")
            limit = self._limits.max_complaints_per_hour
            return [Reply(t("draft.rate_limited", lang, limit=limit, time=when), notice="⏳")]
        result = await self._intake.file_draft(
            Draft(
                user=press.sender,
                chat_id=press.chat_id or press.sender.id,
                draft_id=draft.draft_id,
                text=draft.text,
                photos=tuple(draft.photos),
                location=draft.location,
                category=draft.category,
            )
        )
        await self.cancel(press.sender.id)
        department = view.config_name(self._config, "department", result.department, lang)
        text = t("draft.sent", lang, number=result.complaint_id, department=department)
        if result.outcome == "merged":
            text = t("notify.merged", lang, number=result.complaint_id, original=result.original)
        return [Reply(text, edit_message_id=press.message_id, notice="✅")]
