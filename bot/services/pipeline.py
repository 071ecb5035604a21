"""The complaint pipeline: mentions → classify → dedupe → store → department queue.

Plain classes with no Telegram library: handlers call them with normalized events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from bot.classifier.base import Classification, Classifier, MessageContext, classify_many
from bot.config import Config
from bot.core.deadlines import DeadlinePolicy
from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.events import IncomingMessage, User
from bot.core.lifecycle import start_afresh
from bot.core.mentions import Mention, MentionDetector
from bot.ops.latency import LatencyHistogram
from bot.services.duplicates import DuplicateFinder
from bot.services.enqueuer import Enqueuer
from bot.services.intake_run import RunCandidates, RunSeen, split_at_repeats
from bot.services.intake_types import Draft, IntakeResult
from bot.views.i18n import normalize_language
from storage.base import utcnow
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

__all__ = ["ComplaintIntake", "Draft", "Enqueuer", "IntakeResult"]  # Enqueuer: where callers found it

log = logging.getLogger(__name__)


def _author_label(user: User) -> str:
    """How a card names the author: the name, and the @username when there is one."""
    return user.full_name + (f" (@{user.username})" if user.username else "")


def _context(message: IncomingMessage) -> MessageContext | None:
    """What the classifier may use besides the text: where the resident said it happened."""
    if message.location is None:
        return None
    return MessageContext(message.location.latitude, message.location.longitude)


def _new_complaint(**fields: Any) -> ComplaintRow:
    """A complaint row at the start of its lifecycle (column defaults apply only at flush)."""
    return ComplaintRow(
        status=ComplaintStatus.NEW.value, duplicate_count=0, reopen_count=0, acknowledged=False, **fields
    )


class ComplaintIntake:
    """Turns a tagged (or private) message into exactly one complaint on the right queue."""

    def __init__(
        self,
        config: Config,
        detector: MentionDetector,
        classifier: Classifier,
        enqueuer: Enqueuer,
        uow_factory: Callable[[], UnitOfWork],
    ) -> None:
        self._config = config
        self._deadlines = DeadlinePolicy(config)
        self._duplicates = DuplicateFinder(config.duplicates)
        self._detector = detector
        self._classifier = classifier
        self._enqueuer = enqueuer
        self._uow_factory = uow_factory
        self.classify_seconds = LatencyHistogram()  # read by the metrics endpoint

    def _uow(self) -> UnitOfWork:
        return self._uow_factory()

    def mentions(self, message: IncomingMessage) -> list[Mention]:
        """Officials the message tags."""
        return self._detector.detect(message)

    async def classify(self, message: IncomingMessage) -> Classification:
        """Classify off the event loop: the model is CPU work."""
        return await self.classify_text(message.text, _context(message))

    async def classify_text(self, text: str, context: MessageContext | None = None) -> Classification:
        """Classify a text in a worker thread."""
        started = time.perf_counter()
        verdict = await asyncio.to_thread(self._classifier.classify, text, context)
        # includes the wait for a free worker thread: that is the latency the pipeline sees
        self.classify_seconds.observe(time.perf_counter() - started)
        return verdict

    async def classify_messages(self, messages: Sequence[IncomingMessage]) -> list[Classification]:
        """Classify several messages in one call in one worker thread."""
        if len(messages) < 2:  # a message on its own is classified as one, with no batch around it
            return [await self.classify(message) for message in messages]
        items = [(m.text, _context(m)) for m in messages]
        started = time.perf_counter()
        verdicts = await asyncio.to_thread(classify_many, self._classifier, items)
        self.classify_seconds.observe(time.perf_counter() - started)
        return verdicts

    def department_for(self, category: str, fallback: str) -> str:
        """The department that owns `category` (routing is the config's data)."""
        try:
            return self._config.category(category).department
        except KeyError:
            return fallback

    async def file_draft(self, draft: Draft) -> IntakeResult:
        """File a resident's private draft as a complaint (idempotent on the draft) and queue it."""
        context = MessageContext(*draft.location) if draft.location else None
        verdict = await self.classify_text(draft.text, context)
        async with self._uow() as uow:
            existing = await uow.complaints.by_source(draft.chat_id, draft.draft_id)
            if existing is not None:
                if existing.status == ComplaintStatus.NEW.value:
                    await self._enqueuer.enqueue(existing.id, existing.department_id)
                return IntakeResult("unchanged", existing.id, existing.department_id, existing.urgent)
            resident = await uow.residents.get_or_create(
                draft.user.id, username=draft.user.username, full_name=draft.user.full_name or None
            )
            row = _new_complaint(
                source=ComplaintSource.PRIVATE.value,
                chat_id=draft.chat_id,
                message_id=draft.draft_id,
                resident_id=resident.id,
                author_name=_author_label(draft.user),
                text=draft.text,
                officials=[],
                photos=list(draft.photos),
                latitude=draft.location[0] if draft.location else None,
                longitude=draft.location[1] if draft.location else None,
            )
            self._apply(row, verdict)
            row.kind = "complaint"  # the resident chose to file it
            if draft.category is not None:
                row.category = draft.category
                row.department_id = self.department_for(draft.category, row.department_id)
                row.needs_triage = False
                row.alternative_category, row.alternative_confidence = None, None  # the resident chose
            row.deadline_at = self._deadlines.deadline(utcnow(), row.category, row.department_id)
            await uow.complaints.add(row, actor="resident", actor_user_id=draft.user.id)
            original = await self._merge_if_duplicate(uow, row)
            await uow.commit()
            number, department, urgent = row.id, row.department_id, row.urgent
        return await self._route(number, department, urgent, original)

    async def reopen(self, complaint_id: int, *, actor_user_id: int | None) -> bool:
        """Send a resolved complaint back to its department with a fresh card; counts the reopening."""
        async with self._uow() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is None or row.status != ComplaintStatus.RESOLVED.value:
                return False
            await uow.complaints.change_status(
                row, ComplaintStatus.QUEUED, actor="resident", actor_user_id=actor_user_id, action="reopened"
            )
            start_afresh(row, self._deadlines.deadline(utcnow(), row.category, row.department_id))
            await uow.commit()
            department = row.department_id
        await self._enqueuer.enqueue(complaint_id, department)
        return True

    async def submit(self, message: IncomingMessage, *, require_mention: bool = True) -> IntakeResult:
        """Store the message as a complaint (idempotent on chat and message id) and queue it."""
        (result,) = await self.submit_many([message], require_mention=require_mention)
        return result

    async def submit_many(
        self, messages: Sequence[IncomingMessage], *, require_mention: bool = True
    ) -> list[IntakeResult]:
        """`submit` for a run of messages, in order: classified in one call, stored in one transaction."""
        results: list[IntakeResult] = []
        for part in split_at_repeats(messages):
            results += await self._submit_run(part, require_mention)
        return results

    async def _submit_run(self, messages: list[IncomingMessage], require_mention: bool) -> list[IntakeResult]:
        results: dict[int, IntakeResult] = {}
        tagged = [(i, m, self.mentions(m)) for i, m in enumerate(messages)]
        for index, _, mentions in tagged:
            if require_mention and not mentions:
                results[index] = IntakeResult("untagged")
        tagged = [item for item in tagged if item[0] not in results]
        verdicts = await self.classify_messages([message for _, message, _ in tagged])
        queued: list[tuple[int, str]] = []  # put on the queues once the run is committed, in order
        async with self._uow() as uow:
            stored = await uow.complaints.by_sources({(m.chat.id, m.message_id) for _, m, _ in tagged})
            fresh: list[tuple[int, ComplaintRow]] = []
            seen = RunSeen()
            for (index, message, mentions), verdict in zip(tagged, verdicts, strict=True):
                existing = stored.get((message.chat.id, message.message_id))
                if existing is not None:
                    results[index], _, requeue = await self._apply_update(uow, existing, message, verdict)
                    if requeue:
                        queued.append((existing.id, existing.department_id))
                elif verdict.complaint:
                    fresh.append((index, await self._new_row(uow, message, mentions, verdict, seen)))
                else:
                    log.info(
                        "tagged message is not a complaint",
                        extra={"chat_id": message.chat.id, "kind": verdict.kind},
                    )
                    results[index] = IntakeResult("not_complaint")
            candidates = RunCandidates(self._duplicates, self._duplicates.window_start(utcnow()))
            await candidates.load(uow, [row for _, row in fresh])  # before the run's own rows are stored
            await uow.complaints.add_many([row for _, row in fresh])
            for index, row in fresh:
                original = await candidates.merge(uow, row)
                outcome = "created" if original is None else "merged"
                results[index] = IntakeResult(outcome, row.id, row.department_id, row.urgent, original)
                queued.append((original or row.id, row.department_id))
                log.info(
                    f"complaint {'stored' if original is None else 'merged'}", extra={"complaint_id": row.id}
                )
            await uow.commit()
        await self._enqueuer.enqueue_many(queued)
        return [results[index] for index in range(len(messages))]

    async def _new_row(
        self,
        uow: UnitOfWork,
        message: IncomingMessage,
        mentions: list[Mention],
        verdict: Classification,
        seen: RunSeen | None = None,
    ) -> ComplaintRow:
        """A complaint row for a tagged message, its chat and author recorded (once per run with `seen`)."""
        seen = RunSeen() if seen is None else seen
        if message.chat.type != "private" and message.chat.id not in seen.chats:
            await uow.chats.upsert_seen(
                message.chat.id,
                type=message.chat.type,
                title=message.chat.title,
                username=message.chat.username,
            )
            seen.chats.add(message.chat.id)
        resident_id = None
        author_name = None
        sender = message.sender
        if message.is_channel_post:
            author_name = message.chat.title
        elif sender is not None and not sender.is_bot:
            if sender.id not in seen.residents:
                resident = await uow.residents.get_or_create(
                    sender.id,
                    username=sender.username,
                    full_name=sender.full_name or None,
                    language=normalize_language(sender.language_code) if sender.language_code else None,
                )
                seen.residents[sender.id] = resident.id
            resident_id = seen.residents[sender.id]
            author_name = _author_label(sender)
        row = _new_complaint(
            source=self._source(message).value,
            chat_id=message.chat.id,
            message_id=message.message_id,
            chat_username=message.chat.username,
            resident_id=resident_id,
            author_name=author_name,
            text=message.text,
            officials=[m.official_id for m in mentions],
            photos=list(message.photos),
            latitude=message.location.latitude if message.location else None,
            longitude=message.location.longitude if message.location else None,
        )
        self._apply(row, verdict)
        row.deadline_at = self._deadlines.deadline(utcnow(), row.category, row.department_id)
        return row

    async def _merge_if_duplicate(self, uow: UnitOfWork, row: ComplaintRow) -> int | None:
        """Merge a new complaint into an open one about the same problem; return the original's number."""
        candidates = await uow.complaints.similar_candidates(
            row.department_id, row.category, self._duplicates.window_start(utcnow()), exclude=row.id
        )
        best = self._duplicates.best(row, candidates)
        # the candidates are columns only: the one original a merge changes is loaded whole
        original = await uow.complaints.get(best.id) if best is not None else None
        if original is None:
            return None
        await uow.complaints.mark_duplicate(row, original, actor="system")
        return original.id

    async def _route(self, number: int, department: str, urgent: bool, original: int | None) -> IntakeResult:
        if original is not None:
            # the original's card is refreshed to show "+N residents"; no second card
            await self._enqueuer.enqueue(original, department)
            log.info("complaint merged", extra={"complaint_id": number, "original": original})
            return IntakeResult("merged", number, department, urgent, original)
        await self._enqueuer.enqueue(number, department)
        log.info("complaint stored", extra={"complaint_id": number, "department": department})
        return IntakeResult("created", number, department, urgent)

    async def _apply_update(
        self, uow: UnitOfWork, row: ComplaintRow, message: IncomingMessage, verdict: Classification
    ) -> tuple[IntakeResult, bool, bool]:
        """Apply a redelivery or an edit to its stored complaint, uncommitted; return what it did, whether
        anything changed, and whether the complaint goes on its queue (after the commit)."""
        status = ComplaintStatus(row.status)
        if not message.is_edit or message.text == row.text:
            # NEW: stored, but a crash kept it off the queue
            unchanged = IntakeResult("unchanged", row.id, row.department_id, row.urgent)
            return unchanged, False, status is ComplaintStatus.NEW
        previous_department = row.department_id
        row.text = message.text
        if message.photos:
            row.photos = list(message.photos)
        if verdict.complaint and not status.is_final:
            self._apply(row, verdict)
        await uow.complaints.log(
            row,
            "edited",
            actor="resident",
            details={"category": row.category, "department": row.department_id},
        )
        moved = row.department_id != previous_department
        if moved:
            # the card in the old department's chat stays as history; the new one gets a fresh card,
            # and the new department its full deadline, as when staff reroute it
            start_afresh(row, self._deadlines.deadline(utcnow(), row.category, row.department_id))
            # a prompt for a comment in the old department's chat must not resolve it if it comes back
            await uow.desk_prompts.close(row.id)
        requeue = not status.is_final and status is not ComplaintStatus.NEW
        if requeue and status is not ComplaintStatus.QUEUED and moved:
            await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="system", action="rerouted")
        # same department: the worker edits the existing card; new department: it sends one
        return IntakeResult("updated", row.id, row.department_id, row.urgent), True, not status.is_final

    @staticmethod
    def _apply(row: ComplaintRow, verdict: Classification) -> None:
        row.language = verdict.language
        row.kind = verdict.kind if verdict.complaint else "complaint"
        row.category = verdict.category
        row.department_id = verdict.department
        row.urgent = verdict.urgent
        row.district = verdict.district
        row.confidence = verdict.confidence
        row.needs_triage = verdict.needs_triage
        # a re-classified edit replaces the old alternative, or clears it when the text is no longer torn
        alternative = verdict.alternative
        row.alternative_category = alternative.category if alternative is not None else None
        row.alternative_confidence = alternative.confidence if alternative is not None else None

    @staticmethod
    def _source(message: IncomingMessage) -> ComplaintSource:
        if message.chat.is_private:
            return ComplaintSource.PRIVATE
        if message.is_channel_post:
            return ComplaintSource.CHANNEL
        return ComplaintSource.GROUP
