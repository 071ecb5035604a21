"""Residents' personal data: erased when its retention period is over, or at once on request.

What is personal and what is the city's record is decided here and explained in the README
("Personal data and retention"). The complaint itself (its text, category, department, district,
location, photos, dates, statuses and the staff's actions) stays, so statistics and digests never change;
what goes is whatever ties it to a person: the author's name and username, their resident row (Telegram
id, phone, language), their id in the audit log, phone numbers written into the text, raw updates and
drafts. Logs get counts only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.config import RetentionConfig
from bot.core.domain import ComplaintSource, ComplaintStatus, InboxStatus
from bot.core.lifecycle import LISTED, CardState
from bot.core.schedule import Job
from storage.base import utcnow
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

# 10 to 15 digits with the usual separators: +7 701 123 45 67, 8(7172)55-55-55, 87011234567
_PHONE = re.compile(r"(?<![\d+])\+?\d(?:[ \t\-()]{0,2}\d){9,14}(?!\d)")
PHONE_PLACEHOLDER = "[…]"
_USER_KEYS = frozenset({"first_name", "last_name", "username", "is_bot"})

RefreshCard = Callable[[int, str], Awaitable[None]]


def redact_phones(text: str) -> str:
    """`text` with every phone-number-like run of digits replaced by a placeholder."""
    return _PHONE.sub(PHONE_PLACEHOLDER, text)


def mentions_user(payload: Any, user_id: int) -> bool:
    """True when a raw update carries this Telegram user: as a sender, a chat, a reply's author, a contact."""
    if isinstance(payload, dict):
        if payload.get("id") == user_id and payload.keys() & _USER_KEYS:  # a User, or a private Chat
            return True
        if payload.get("user_id") == user_id:  # a shared contact
            return True
        return any(mentions_user(value, user_id) for value in payload.values())
    if isinstance(payload, list):
        return any(mentions_user(value, user_id) for value in payload)
    return False


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    """What one expiry pass erased, per kind."""

    complaints: int = 0  # closed complaints whose author was erased
    events: int = 0  # audit events that lost the resident's Telegram id
    residents: int = 0  # resident rows deleted
    blocked_anonymised: int = 0  # blocked residents reduced to their id and the block
    inbox: int = 0  # raw updates deleted (handled ones)
    failed_inbox: int = 0  # raw updates deleted (failed ones)
    drafts: int = 0  # private-chat conversations deleted
    failed_notices: int = 0  # notices to residents given up on, deleted with the failed raw updates
    desk_prompts: int = 0  # staff's pending resolutions never answered

    def counts(self) -> dict[str, int]:
        """The counts by kind."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What erasing one resident's data did."""

    complaints: int = 0  # their complaints, now without an author
    open_complaints: int = 0  # of those, still being worked on (the resident can no longer be told)
    events: int = 0
    inbox: int = 0  # raw updates emptied
    drafts: int = 0
    resident: str = "none"  # "deleted", "kept_blocked" (id and block kept) or "none" (no row)
    cards: tuple[int, ...] = field(default=())  # complaints whose department card is re-rendered

    @property
    def found(self) -> bool:
        """True when anything at all was stored about the resident."""
        return self.resident != "none" or bool(self.complaints or self.events or self.inbox or self.drafts)

    def counts(self) -> dict[str, int]:
        """The counts by kind (for logs: no ids, no names)."""
        return {
            "complaints": self.complaints,
            "open_complaints": self.open_complaints,
            "events": self.events,
            "inbox": self.inbox,
            "drafts": self.drafts,
        }


def erase_author(row: ComplaintRow, now: datetime) -> None:
    """Take everything that points at the author off a complaint; the report itself stays."""
    row.author_name = None
    row.resident_id = None
    if row.source == ComplaintSource.PRIVATE.value:
        # a private chat's id is the resident's Telegram id; (0, number) stays unique and points nowhere
        row.chat_id = 0
        row.message_id = row.id
        row.chat_username = None
    row.text = redact_phones(row.text)
    row.erased_at = now


class DataEraser:
    """Erases residents' personal data: expired data on a schedule, one resident's at an admin's request."""

    def __init__(
        self,
        config: RetentionConfig,
        uow_factory: Callable[[], UnitOfWork],
        *,
        refresh_card: RefreshCard | None = None,
        batch: int = 500,
    ) -> None:
        self._config = config
        self._uow_factory = uow_factory
        # re-renders a department card without the author (the bot queues it for the delivery worker)
        self._refresh_card = refresh_card
        self._batch = batch

    def jobs(self) -> list[Job]:
        """The nightly expiry job, unless `retention.schedule` is null."""
        if self._config.schedule is None:
            return []

        async def run(slot: datetime) -> None:
            await self.erase_expired(utcnow())

        return [Job("retention", run, cron=self._config.schedule)]

    async def erase_expired(self, now: datetime) -> ExpiryReport:
        """Erase every piece of personal data whose retention period is over at `now`."""
        config = self._config
        personal_cutoff = now - timedelta(days=config.personal_data_days)
        complaints = events = 0
        while True:  # in batches, so a first run on a large database never holds one huge transaction
            async with self._uow_factory() as uow:
                rows = list(await uow.retention.expired_complaints(personal_cutoff, limit=self._batch))
                for row in rows:
                    erase_author(row, now)
                events += await uow.retention.forget_resident_actions(complaint_ids=[row.id for row in rows])
                await uow.commit()
            complaints += len(rows)
            if len(rows) < self._batch:
                break
        async with self._uow_factory() as uow:
            residents = await uow.retention.delete_stale_residents(personal_cutoff)
            blocked = await uow.retention.anonymise_stale_blocked(personal_cutoff)
            inbox = await uow.retention.delete_inbox(
                InboxStatus.PROCESSED, now - timedelta(days=config.inbox_days)
            )
            failed = await uow.retention.delete_inbox(
                InboxStatus.FAILED, now - timedelta(days=config.failed_inbox_days)
            )
            drafts = await uow.retention.delete_conversations(
                updated_before=now - timedelta(days=config.drafts_days)
            )
            prompts = await uow.desk_prompts.expire(now - timedelta(days=config.drafts_days))
            failed_before = now - timedelta(days=config.failed_inbox_days)
            notices = await uow.retention.delete_failed_notices(failed_before)
            await uow.commit()
        report = ExpiryReport(complaints, events, residents, blocked, inbox, failed, drafts, notices, prompts)
        log.info("expired personal data erased", extra=report.counts())
        return report

    async def erase_resident(self, telegram_user_id: int, *, now: datetime | None = None) -> ErasureReport:
        """Erase one resident's personal data everywhere, at once (one commit).

        Their complaints stay with the departments without an author; open ones are still worked on,
        but nobody can be told the outcome. A blocked resident stays blocked: the Telegram id and the
        block are all that is kept, so erasure is no way around a block (an admin can /unblock first).
        Updates still waiting to be processed are left to the processor.
        """
        now = now or utcnow()
        async with self._uow_factory() as uow:
            resident = await uow.residents.by_telegram_id(telegram_user_id)
            rows = list(
                await uow.retention.complaints_of(telegram_user_id, resident.id if resident else None)
            )
            open_count = sum(1 for row in rows if not ComplaintStatus(row.status).is_final)
            cards = tuple(
                (row.id, row.department_id)
                for row in rows
                if row.card_state in (CardState.SENT, *LISTED) and row.erased_at is None
            )
            for row in rows:
                erase_author(row, now)
            events = await uow.retention.forget_resident_actions(
                complaint_ids=[row.id for row in rows], telegram_user_id=telegram_user_id
            )
            inbox_ids = _mentioning(
                await uow.retention.inbox_candidates(str(telegram_user_id)), telegram_user_id
            )
            inbox = await uow.retention.empty_inbox_payloads(inbox_ids, private_chat_id=telegram_user_id)
            drafts = await uow.retention.delete_conversations(user_id=telegram_user_id)
            outcome = "none"
            if resident is not None and resident.blocked:
                resident.username = resident.full_name = resident.phone = resident.language = None
                outcome = "kept_blocked"
            elif resident is not None:
                await uow.residents.delete(resident)
                outcome = "deleted"
            await uow.commit()
        report = ErasureReport(
            complaints=len(rows),
            open_complaints=open_count,
            events=events,
            inbox=inbox,
            drafts=drafts,
            resident=outcome,
            cards=tuple(number for number, _ in cards),
        )
        log.info("a resident's personal data erased on request", extra=report.counts())
        if self._refresh_card is not None:
            for number, department in cards:
                await self._refresh_card(number, department)
        return report


def _mentioning(candidates: Iterable[tuple[int, dict[str, Any]]], user_id: int) -> list[int]:
    return [row_id for row_id, payload in candidates if mentions_user(payload, user_id)]
