"""Sending digests: on each recipient's schedule, on demand with /digest, and with `shagym digest --now`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.config import Config
from bot.core.schedule import Job
from bot.services.digests import Digest, DigestBuilder, DigestRecipient, previous_run
from bot.telegram.outbound import Outbound
from bot.views.i18n import DEFAULT_LANGUAGE

log = logging.getLogger(__name__)

ON_DEMAND_PERIOD = timedelta(hours=24)


class DigestService:
    """Builds and sends digests to officials and department heads."""

    def __init__(self, config: Config, builder: DigestBuilder, outbound: Outbound) -> None:
        self._config = config
        self._builder = builder
        self._outbound = outbound

    def recipients(self) -> list[DigestRecipient]:
        """Everyone who gets a digest."""
        return self._builder.recipients()

    def schedule_of(self, recipient: DigestRecipient) -> str | None:
        """The cron schedule of a recipient (officials' own, or the department heads' one)."""
        kind, _, item = recipient.key.partition(":")
        if kind == "official":
            for official in self._config.officials:
                if official.id == item and official.digest is not None:
                    return official.digest.schedule
            return None
        return self._config.digests.department_heads_schedule

    def recipient_for_chat(self, chat_id: int) -> DigestRecipient | None:
        """Who /digest in `chat_id` is for: an official's, head's, department's or allowed chat."""
        for recipient in self.recipients():
            if recipient.chat_id == chat_id:
                return recipient
        for department in self._config.departments:
            if department.chat_id == chat_id:
                return DigestRecipient(f"chat:{department.id}", chat_id, department.language, department.id)
        if chat_id in self._config.digests.allowed_chats or chat_id in self._config.telegram.admins:
            return DigestRecipient(f"chat:{chat_id}", chat_id, DEFAULT_LANGUAGE, None)
        return None

    def jobs(self) -> list[Job]:
        """One scheduler job per recipient with a schedule."""
        jobs = []
        for recipient in self.recipients():
            schedule = self.schedule_of(recipient)
            if schedule is None:
                continue

            async def run(
                slot: datetime, recipient: DigestRecipient = recipient, schedule: str = schedule
            ) -> None:
                start = previous_run(schedule, slot - timedelta(seconds=1), self._config.tz)
                await self.send(recipient, start=start, end=slot)

            jobs.append(Job(f"digest:{recipient.key}", run, cron=schedule))
        return jobs

    async def send(self, recipient: DigestRecipient, *, start: datetime, end: datetime) -> Digest:
        """Build the digest for [start, end) and send its parts and chart."""
        digest = await self._builder.build(recipient, start=start, end=end)
        for part in digest.parts:
            await self._outbound.send(recipient.chat_id, part)
        sent = await self._outbound.send_document(
            recipient.chat_id, "digest.png", digest.chart_png, caption=digest.caption
        )
        if sent is None:
            log.warning("digest chart for %s not sent", recipient.key)
        log.info("digest sent", extra={"recipient": recipient.key, "parts": len(digest.parts)})
        return digest

    async def send_now(self, recipient: DigestRecipient, now: datetime) -> Digest:
        """An on-demand digest of the last 24 hours."""
        return await self.send(recipient, start=now - ON_DEMAND_PERIOD, end=now)
