"""The private chat's front door: which use case a message or a button press goes to.

Commands, the language, the shared contact and the admins' commands are answered here; the draft
(`filing`) and following one's complaints (`following`) have their own modules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bot.config import Config
from bot.core import callbacks
from bot.core.callbacks import ResidentAction
from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.events import CallbackPress, IncomingMessage, User
from bot.core.lifecycle import CardState
from bot.services.pipeline import ComplaintIntake
from bot.services.residents.admin import ResidentAdmin
from bot.services.residents.drafts import ShowDraft, Step
from bot.services.residents.filing import DraftFiling
from bot.services.residents.following import ComplaintFollowing
from bot.services.residents.reply import Reply
from bot.services.retention import DataEraser, RefreshCard
from bot.views import resident as view
from bot.views.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalize_language, t
from storage.base import utcnow
from storage.uow import UnitOfWork

_SUPPORTED_CONTENT = frozenset({"text", "photo", "location", "contact", "document"})
_PHONE_CHARS = 32  # of a shared phone number kept
_CARDS_REFRESHED = 20  # of the resident's latest complaints whose open cards show a newly shared phone


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
        # re-renders a department card (the bot queues it): a phone shared later shows on open cards
        self._refresh_card = refresh_card
        self._uow_factory = uow_factory
        self._admins = frozenset(config.telegram.admins)
        self._drafts = DraftFiling(config, intake, uow_factory, clock)
        self._following = ComplaintFollowing(config, intake, uow_factory)
        self._admin = ResidentAdmin(uow_factory, eraser or DataEraser(config.retention, uow_factory))

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
        steps: list[Step] = []
        for message in messages:
            steps.extend(await self._handle(message))
        last = max((i for i, step in enumerate(steps) if isinstance(step, ShowDraft)), default=-1)
        return await self._render([s for i, s in enumerate(steps) if i == last or isinstance(s, Reply)])

    async def remember_summary(self, user_id: int, draft_id: int, message_id: int) -> None:
        """Note which bot message shows the draft, and when, so changes soon after edit it."""
        await self._drafts.remember_summary(user_id, draft_id, message_id)

    async def _render(self, steps: Sequence[Step]) -> list[Reply]:
        replies: list[Reply] = []
        for step in steps:
            if isinstance(step, ShowDraft):
                replies.append(await self._drafts.summary(step.draft, step.lang))
            else:
                replies.append(step)
        return replies

    async def _handle(self, message: IncomingMessage) -> Sequence[Step]:
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
            return [await self._admin.block(argument.strip(), command == "/block", lang)]
        if command == "/erase" and sender.id in self._admins:
            return [await self._admin.erase(argument.strip(), lang)]
        if blocked:
            return [Reply(t("blocked", lang))]
        if command == "/start":
            return [self._start()]
        if command in ("/language", "/lang", "/til"):
            return [Reply(t("start.pick_language", lang), keyboard=view.language_keyboard())]
        if command == "/my":
            return [await self._following.my(sender.id, lang)]
        if command == "/status":
            return [await self._following.status(sender.id, argument.strip(), lang)]
        if command == "/cancel":
            await self._drafts.cancel(sender.id)
            return [Reply(t("draft.cancelled", lang))]
        if command:
            return [self._start()]
        if message.content_type not in _SUPPORTED_CONTENT:
            return [Reply(t("unsupported", lang))]
        if message.contact is not None:
            return await self._contact(message, sender, lang)
        if message.content_type == "location" and message.location is None:
            return [Reply(t("draft.location_invalid", lang))]  # impossible coordinates: the draft stays
        if message.content_type == "document" and not message.text.strip():
            # a file is not passed on (cards show photos only); its caption is the text, like a photo's
            return [Reply(t("document.no_caption", lang))]
        return await self._drafts.add(message, sender, lang)

    @staticmethod
    def _start() -> Reply:
        return Reply(view.greeting(), keyboard=view.language_keyboard())

    async def _contact(self, message: IncomingMessage, sender: User, lang: str) -> list[Reply]:
        contact = message.contact
        assert contact is not None
        if contact.user_id != sender.id:
            return [Reply(t("contact.not_yours", lang), reply_keyboard=view.share_keyboard(lang))]
        phone = contact.phone_number[:_PHONE_CHARS]
        async with self._uow_factory() as uow:
            resident = await uow.residents.get_or_create(sender.id)
            cards = []
            if resident.phone != phone and resident.id is not None:
                cards = [
                    (row.id, row.department_id)
                    for row in await uow.complaints.for_resident(resident.id, limit=_CARDS_REFRESHED)
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
                return [Reply(t("language.set", button.code), notice=view.LANGUAGE_NAMES[button.code])]
            await uow.commit()
            blocked = resident.blocked
        if blocked:
            return [Reply("", notice=t("blocked", lang))]
        if isinstance(button, callbacks.OutdatedButton):
            return [Reply("", notice=t("button.outdated", lang))]
        if not isinstance(button, callbacks.ResidentButton):
            return [Reply("", notice=t("confirm.stale", lang))]
        if button.action is ResidentAction.FIXED:
            return await self._following.confirm_fix(
                press.sender.id, button.number, button.target == "y", lang
            )
        return await self._drafts.on_button(press, button, lang)
