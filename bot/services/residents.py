"""The residents' front office: filing a complaint in a private chat, following it, confirming the fix.

Plain use cases: they take normalized events and return `Reply` objects; handlers send them.
The draft being filed lives in the `conversations` table, so it survives a restart and behaves the
same with or without Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.classifier.base import MessageContext
from bot.config import Config
from bot.core import callbacks
from bot.core.callbacks import ResidentAction
from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.events import CallbackPress, IncomingMessage, User
from bot.core.lifecycle import CardState
from bot.core.text import parse_number, utf16_len
from bot.services.pipeline import ComplaintIntake, Draft
from bot.services.retention import DataEraser, RefreshCard
from bot.telegram import Button, Keyboard, ReplyButton, ReplyKeyboard
from bot.views.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalize_language, t
from storage.base import utcnow
from storage.models import ComplaintRow, ResidentRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
_SUPPORTED_CONTENT = frozenset({"text", "photo", "location", "contact", "document"})
# a summary shown this recently is edited as the draft grows; an older one has scrolled away: a new one
_SUMMARY_EDIT_WINDOW = timedelta(minutes=2)
_EXCERPT_CHARS = 300  # of the draft's text in its summary, well inside a message's 4,096


def _excerpt(text: str) -> str:
    """The draft's text for its summary: the end of it when long (the newest part is what changed)."""
    text = text.strip()
    if len(text) <= _EXCERPT_CHARS:
        return text
    tail = text[-_EXCERPT_CHARS:]
    cut = next((i for i, char in enumerate(tail[:40]) if char.isspace()), -1)  # at a word's start
    return "…" + tail[cut + 1 :].lstrip()


@dataclass(frozen=True, slots=True)
class Reply:
    """Something to say to the resident: a new message, or an edit of an earlier bot message."""

    text: str
    keyboard: Keyboard | None = None
    reply_keyboard: ReplyKeyboard | None = None
    edit_message_id: int | None = None
    notice: str | None = None  # for button presses: the short pop-up answer
    draft_id: int | None = None  # a draft summary: remember which message shows it


@dataclass(frozen=True, slots=True)
class _ShowDraft:
    """A draft summary to show; rendered once per burst of messages, from the draft as it ends up."""

    draft: DraftState
    lang: str


_Step = Reply | _ShowDraft  # what handling one message yields, before summaries are rendered


@dataclass(slots=True)
class DraftState:
    """The complaint a resident is composing."""

    draft_id: int
    text: str = ""
    photos: list[str] = field(default_factory=list)
    location: tuple[float, float] | None = None
    category: str | None = None  # the resident's choice, overriding the classifier
    summary_message_id: int | None = None
    summary_at: str | None = None  # when the summary was last sent or edited (ISO 8601)
    last_message_id: int | None = None  # the newest message taken in: a message handled twice adds nothing

    def to_json(self) -> dict[str, Any]:
        """Storable form."""
        return {
            "draft_id": self.draft_id,
            "text": self.text,
            "photos": self.photos,
            "location": list(self.location) if self.location else None,
            "category": self.category,
            "summary_message_id": self.summary_message_id,
            "summary_at": self.summary_at,
            "last_message_id": self.last_message_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DraftState:
        """Back from storage."""
        location = data.get("location")
        return cls(
            draft_id=int(data["draft_id"]),
            text=str(data.get("text") or ""),
            photos=list(data.get("photos") or []),
            location=(float(location[0]), float(location[1])) if location else None,
            category=data.get("category"),
            summary_message_id=data.get("summary_message_id"),
            summary_at=data.get("summary_at"),
            last_message_id=data.get("last_message_id"),
        )


class ResidentOffice:
    """Use cases of the private chat."""

    def __init__(
        self,
        config: Config,
        intake: ComplaintIntake,
        uow_factory: Callable[[], UnitOfWork],
        *,
        clock: Callable[[], datetime] = utcnow,
        eraser: DataEraser | None = None,
        refresh_card: RefreshCard | None = None,
    ) -> None:
        self._config = config
        self._limits = config.residents
        # re-renders a department card (the bot queues it): a phone shared later shows on open cards
        self._refresh_card = refresh_card
        self._eraser = eraser or DataEraser(config.retention, uow_factory)
        self._intake = intake
        self._uow_factory = uow_factory
        self._clock = clock
        self._admins = frozenset(config.telegram.admins)

    # --- messages -------------------------------------------------------------------------------------

    async def on_message(self, message: IncomingMessage) -> list[Reply]:
        """Handle one private message."""
        return await self._render(await self._handle(message))

    async def on_messages(self, messages: Sequence[IncomingMessage]) -> list[Reply]:
        """Handle a burst of one chat's private messages in order, answering with one draft summary.

        Every message goes into the draft as it would alone and other replies (errors, /my, ...) are
        kept in order, but only the last draft summary is shown: one message, or an edit of the one
        already on screen, instead of one per message.
        """
        steps: list[_Step] = []
        for message in messages:
            steps.extend(await self._handle(message))
        last = max((i for i, step in enumerate(steps) if isinstance(step, _ShowDraft)), default=-1)
        return await self._render([s for i, s in enumerate(steps) if i == last or isinstance(s, Reply)])

    async def _render(self, steps: Sequence[_Step]) -> list[Reply]:
        replies: list[Reply] = []
        for step in steps:
            if isinstance(step, _ShowDraft):
                replies.append(await self._summary(step.draft, step.lang))
            else:
                replies.append(step)
        return replies

    async def _handle(self, message: IncomingMessage) -> Sequence[_Step]:
        sender = message.sender
        if sender is None:
            return []
        async with self._uow_factory() as uow:
            resident = await uow.residents.get_or_create(
                sender.id,
                username=sender.username,
                full_name=sender.full_name or None,
                language=normalize_language(sender.language_code),
            )
            await uow.commit()
            lang = resident.language or DEFAULT_LANGUAGE
            blocked = resident.blocked
        text = message.text.strip()
        command, _, argument = text.partition(" ")
        command = command.split("@")[0].lower() if text.startswith("/") else ""
        if command in ("/block", "/unblock") and sender.id in self._admins:
            return [await self._admin_block(argument.strip(), command == "/block", lang)]
        if command == "/erase" and sender.id in self._admins:
            return [await self._admin_erase(argument.strip(), lang)]
        if blocked:
            return [Reply(t("blocked", lang))]
        if command == "/start":
            return self._start(lang)
        if command in ("/language", "/lang", "/til"):
            return [Reply(t("start.pick_language", lang), keyboard=self._language_keyboard())]
        if command == "/my":
            return [await self._my(sender.id, lang)]
        if command == "/status":
            return [await self._status(sender.id, argument.strip(), lang)]
        if command == "/cancel":
            async with self._uow_factory() as uow:
                await uow.conversations.clear(sender.id)
                await uow.commit()
            return [Reply(t("draft.cancelled", lang))]
        if command:
            return self._start(lang)
        if message.content_type not in _SUPPORTED_CONTENT:
            return [Reply(t("unsupported", lang))]
        if message.contact is not None:
            return await self._contact(message, sender, lang)
        if message.content_type == "location" and message.location is None:
            return [Reply(t("draft.location_invalid", lang))]  # impossible coordinates: the draft stays
        if message.content_type == "document" and not message.text.strip():
            # a file is not passed on (cards show photos only); its caption is the text, like a photo's
            return [Reply(t("document.no_caption", lang))]
        return await self._add_to_draft(message, sender, lang)

    def _start(self, lang: str) -> list[Reply]:
        greeting = "\n\n".join(t("start.greeting", code) for code in LANGUAGES)
        return [Reply(greeting, keyboard=self._language_keyboard())]

    @staticmethod
    def _language_keyboard() -> Keyboard:
        return (
            tuple(
                Button(LANGUAGE_NAMES[code], callback_data=callbacks.pack(callbacks.LanguageButton(code)))
                for code in LANGUAGES
            ),
        )

    def _share_keyboard(self, lang: str) -> ReplyKeyboard:
        return (
            (
                ReplyButton(t("button.share_location", lang), request_location=True),
                ReplyButton(t("button.share_contact", lang), request_contact=True),
            ),
        )

    async def _contact(self, message: IncomingMessage, sender: User, lang: str) -> list[Reply]:
        contact = message.contact
        assert contact is not None
        if contact.user_id != sender.id:
            return [Reply(t("contact.not_yours", lang), reply_keyboard=self._share_keyboard(lang))]
        phone = contact.phone_number[:32]
        async with self._uow_factory() as uow:
            resident = await uow.residents.get_or_create(sender.id)
            cards = []
            if resident.phone != phone and resident.id is not None:
                cards = [
                    (row.id, row.department_id)
                    for row in await uow.complaints.for_resident(resident.id, limit=20)
                    if row.source == ComplaintSource.PRIVATE.value
                    and row.card_state == CardState.SENT
                    and not ComplaintStatus(row.status).is_final
                ]
            resident.phone = phone
            await uow.commit()
        if self._refresh_card is not None:
            for number, department in cards:  # their open cards now show the number
                await self._refresh_card(number, department)
        return [Reply(t("contact.saved", lang))]

    async def _add_to_draft(self, message: IncomingMessage, sender: User, lang: str) -> list[_Step]:
        text = message.text.strip()
        if utf16_len(text) > self._limits.max_text_length:
            return [Reply(t("draft.too_long", lang, limit=self._limits.max_text_length))]
        async with self._uow_factory() as uow:
            row = await uow.conversations.get(sender.id)
            draft = (
                DraftState.from_json(row.data)
                if row is not None and row.state == "draft"
                else DraftState(draft_id=message.message_id)
            )
            if (
                not message.is_edit
                and draft.last_message_id is not None
                and message.message_id <= draft.last_message_id
            ):
                # handled before (a crash between the draft's update and the row's): it is in already
                return [_ShowDraft(draft, lang)] if len(draft.text) >= self._limits.min_text_length else []
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
            await uow.conversations.save(sender.id, "draft", draft.to_json())
            await uow.commit()
        if len(draft.text) < self._limits.min_text_length:
            key = "draft.need_text" if message.location is not None and not draft.text else "draft.too_short"
            return [Reply(t(key, lang))]
        return [_ShowDraft(draft, lang)]

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

    async def _summary(self, draft: DraftState, lang: str, *, edit: int | None = None) -> Reply:
        """The draft's summary with its buttons, editing `edit` (default: the summary on screen, if any)."""
        context = MessageContext(*draft.location) if draft.location else None
        verdict = await self._intake.classify_text(draft.text, context)
        category = draft.category or verdict.category
        department = self._intake.department_for(category, verdict.department)
        district = verdict.district
        text = t(
            "draft.summary",
            lang,
            category=self._name("category", category, lang),
            department=self._name("department", department, lang),
            district=self._name("district", district, lang) if district else "—",
            photos=len(draft.photos),
            location=t("word.yes" if draft.location else "word.no", lang),
        )
        if not verdict.complaint and draft.category is None:
            text = f"{t('draft.not_complaint', lang)}\n\n{text}"
        # the resident's own words on top: an edited summary shows what the last messages added
        quote = f"💬 {_excerpt(draft.text)}\n\n" if draft.text.strip() else ""
        text = f"{quote}{text}\n\n{t('draft.more', lang)}"
        keyboard: Keyboard = (
            (Button(t("button.send", lang), callback_data=_data(ResidentAction.SEND, draft.draft_id)),),
            (
                Button(
                    t("button.change_category", lang),
                    callback_data=_data(ResidentAction.CHANGE_CATEGORY, draft.draft_id),
                ),
                Button(t("button.cancel", lang), callback_data=_data(ResidentAction.CANCEL, draft.draft_id)),
            ),
        )
        if edit is None:
            edit = self._shown_summary(draft)
        return Reply(text, keyboard=keyboard, edit_message_id=edit, draft_id=draft.draft_id)

    def _name(self, kind: str, item_id: str | None, lang: str) -> str:
        if item_id is None:
            return "—"
        lookup = {
            "category": self._config.category_name,
            "department": self._config.department_name,
            "district": self._config.district_name,
        }[kind]
        return lookup(item_id, lang)

    async def remember_summary(self, user_id: int, draft_id: int, message_id: int) -> None:
        """Note which bot message shows the draft, and when, so changes soon after edit it."""
        async with self._uow_factory() as uow:
            row = await uow.conversations.get(user_id)
            if row is None or row.state != "draft":
                return
            draft = DraftState.from_json(row.data)
            if draft.draft_id != draft_id:
                return
            draft.summary_message_id = message_id
            draft.summary_at = self._clock().isoformat()
            await uow.conversations.save(user_id, "draft", draft.to_json())
            await uow.commit()

    async def _my(self, user_id: int, lang: str) -> Reply:
        async with self._uow_factory() as uow:
            resident = await uow.residents.by_telegram_id(user_id)
            rows = list(await uow.complaints.for_resident(resident.id, limit=15)) if resident else []
        if not rows:
            return Reply(t("my.empty", lang))
        lines = [t("my.header", lang)]
        for row in rows:
            lines.append(
                t(
                    "my.line",
                    lang,
                    number=row.id,
                    category=self._name("category", row.category, lang),
                    status=t(f"status.{row.status}", lang),
                    date=self._local_date(row.created_at),
                )
            )
        return Reply("\n".join(lines))

    async def _status(self, user_id: int, argument: str, lang: str) -> Reply:
        number = parse_number(argument.lstrip("№#"))
        if number is None:
            return Reply(t("status.usage", lang))
        row = await self._own_complaint(user_id, number)
        if row is None:
            return Reply(t("status.not_found", lang, number=number))
        return Reply(
            t(
                "status.detail",
                lang,
                number=row.id,
                category=self._name("category", row.category, lang),
                department=self._name("department", row.department_id, lang),
                status=t(f"status.{row.status}", lang),
                date=self._local_date(row.created_at),
                text=row.text[:1500],
            )
        )

    async def _own_complaint(self, user_id: int, number: int) -> ComplaintRow | None:
        async with self._uow_factory() as uow:
            resident = await uow.residents.by_telegram_id(user_id)
            row = await uow.complaints.get(number)
        if resident is None or row is None or row.resident_id != resident.id:
            return None
        return row

    def _local_date(self, moment: datetime) -> str:
        return moment.astimezone(self._config.tz).strftime("%d.%m.%Y %H:%M")

    async def _admin_block(self, argument: str, block: bool, lang: str) -> Reply:
        user_id = parse_number(argument, signed=True)
        if user_id is None:
            return Reply(t("admin.usage", lang))
        async with self._uow_factory() as uow:
            await uow.residents.set_blocked(user_id, block)
            await uow.commit()
        log.info("resident %s", "blocked" if block else "unblocked", extra={"user_id": user_id})
        return Reply(t("admin.blocked" if block else "admin.unblocked", lang, user_id=user_id))

    async def _admin_erase(self, argument: str, lang: str) -> Reply:
        user_id = parse_number(argument, signed=True)
        if user_id is None:
            return Reply(t("admin.usage", lang))
        report = await self._eraser.erase_resident(user_id)
        if not report.found:
            return Reply(t("admin.erase_nothing", lang, user_id=user_id))
        lines = [
            t(
                "admin.erased",
                lang,
                user_id=user_id,
                complaints=report.complaints,
                inbox=report.inbox,
                drafts=report.drafts,
            )
        ]
        if report.open_complaints:
            lines.append(t("admin.erased_open", lang, count=report.open_complaints))
        if report.resident == "kept_blocked":
            lines.append(t("admin.erased_blocked", lang, user_id=user_id))
        return Reply("\n\n".join(lines))

    # --- buttons --------------------------------------------------------------------------------------

    async def on_button(self, press: CallbackPress) -> list[Reply]:
        """Handle a press of one of the private chat's buttons (data is untrusted)."""
        async with self._uow_factory() as uow:
            resident = await uow.residents.get_or_create(press.sender.id)
            lang = resident.language or normalize_language(press.sender.language_code)
            button = callbacks.parse(press.data)
            if isinstance(button, callbacks.LanguageButton):
                if button.code not in LANGUAGES:
                    return [Reply("", notice=t("confirm.stale", lang))]
                resident.language = button.code
                await uow.commit()
                return [Reply(t("language.set", button.code), notice=LANGUAGE_NAMES[button.code])]
            await uow.commit()
            blocked = resident.blocked
        if blocked:
            return [Reply("", notice=t("blocked", lang))]
        if isinstance(button, callbacks.OutdatedButton):
            return [Reply("", notice=t("button.outdated", lang))]
        if not isinstance(button, callbacks.ResidentButton):
            return [Reply("", notice=t("confirm.stale", lang))]
        action = button.action
        if action is ResidentAction.FIXED:
            return await self._confirm_fix(press.sender.id, button.number, button.target == "y", lang)
        draft_id = button.number
        async with self._uow_factory() as uow:
            row = await uow.conversations.get(press.sender.id)
        draft = DraftState.from_json(row.data) if row is not None and row.state == "draft" else None
        if draft is None or draft.draft_id != draft_id:
            return [Reply("", notice=t("draft.expired", lang))]
        if action is ResidentAction.CANCEL:
            async with self._uow_factory() as uow:
                await uow.conversations.clear(press.sender.id)
                await uow.commit()
            return [Reply(t("draft.cancelled", lang), edit_message_id=press.message_id, notice="✖️")]
        if action is ResidentAction.CHANGE_CATEGORY:
            rows: list[tuple[Button, ...]] = []
            buttons = [
                Button(
                    category.name.get(lang),
                    callback_data=_data(ResidentAction.SET_CATEGORY, draft_id, category.id),
                )
                for category in self._config.categories
            ]
            for start in range(0, len(buttons), 2):
                rows.append(tuple(buttons[start : start + 2]))
            return [
                Reply(t("draft.pick_category", lang), keyboard=tuple(rows), edit_message_id=press.message_id)
            ]
        if action is ResidentAction.SET_CATEGORY and button.target is not None:
            category_id = callbacks.match_id(button.target, (c.id for c in self._config.categories))
            if category_id is None:
                return [Reply("", notice=t("confirm.stale", lang))]
            draft.category = category_id
            draft.summary_message_id = press.message_id
            draft.summary_at = self._clock().isoformat()
            async with self._uow_factory() as uow:
                await uow.conversations.save(press.sender.id, "draft", draft.to_json())
                await uow.commit()
            return [await self._summary(draft, lang, edit=press.message_id)]
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
        async with self._uow_factory() as uow:
            await uow.conversations.clear(press.sender.id)
            await uow.commit()
        department = self._name("department", result.department, lang)
        text = t("draft.sent", lang, number=result.complaint_id, department=department)
        if result.outcome == "merged":
            text = t("notify.merged", lang, number=result.complaint_id, original=result.original)
        return [Reply(text, edit_message_id=press.message_id, notice="✅")]

    async def _confirm_fix(self, user_id: int, number: int, fixed: bool, lang: str) -> list[Reply]:
        row = await self._own_complaint(user_id, number)
        if row is None or row.status != ComplaintStatus.RESOLVED.value:
            return [Reply("", notice=t("confirm.stale", lang))]
        if fixed:
            async with self._uow_factory() as uow:
                complaint = await uow.complaints.get(number)
                if complaint is not None:
                    await uow.complaints.log(complaint, "confirmed", actor="resident", actor_user_id=user_id)
                    await uow.commit()
            return [Reply(t("confirm.thanks", lang), notice="👍")]
        await self._intake.reopen(number, actor_user_id=user_id)
        return [Reply(t("confirm.reopened", lang, number=number), notice="↩️")]


class ResidentNotifier:
    """Tells residents what happened to their complaints, in their language."""

    def __init__(
        self,
        config: Config,
        uow_factory: Callable[[], UnitOfWork],
        send: Callable[[int, str, Keyboard | None], Any],
    ) -> None:
        self._config = config
        self._uow_factory = uow_factory
        self._send = send

    async def notify(
        self, complaint_id: int, event: str, *, comment: str | None = None, original: int | None = None
    ) -> bool:
        """Send the resident a notice for `event` (taken, rerouted, resolved, rejected, merged)."""
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            resident: ResidentRow | None = (
                await uow.residents.get(row.resident_id) if row and row.resident_id else None
            )
        if row is None or resident is None or resident.blocked:
            return False
        lang = resident.language or DEFAULT_LANGUAGE
        department = self._config.department_name(row.department_id, lang)
        text = t(
            f"notify.{event}",
            lang,
            number=row.id,
            department=department,
            comment=comment or "—",
            original=original,
        )
        keyboard: Keyboard | None = None
        if event == "resolved" and self._config.residents.ask_confirmation_after_resolve:
            text = f"{text}\n\n{t('confirm.question', lang)}"
            keyboard = (
                (
                    Button(
                        t("button.yes_fixed", lang), callback_data=_data(ResidentAction.FIXED, row.id, "y")
                    ),
                    Button(
                        t("button.not_fixed", lang), callback_data=_data(ResidentAction.FIXED, row.id, "n")
                    ),
                ),
            )
        await self._send(resident.telegram_user_id, text, keyboard)
        return True


def _data(action: ResidentAction, number: int, target: str | None = None) -> str:
    return callbacks.pack(callbacks.ResidentButton(action, number, target))
