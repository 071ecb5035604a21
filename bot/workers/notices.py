"""Sends the notices owed to residents from the outbox, so a crash after a staff action loses none.

A desk action stores its notices in the same commit as the change; this sender claims them, sends
them through `ResidentNotifier` and deletes each one once Telegram took it. Every instance runs a
sender: claims keep them off each other's notices.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from bot.ops.retry import Backoff
from bot.services.residents import ResidentNotifier
from bot.telegram import TelegramBadRequest, TelegramError, TelegramForbidden
from bot.workers.loops import run_rounds, wait_for_any
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class NoticeSender:
    """Delivers pending notices until stopped."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        notifier: ResidentNotifier,
        *,
        holder: str,
        lease_seconds: float = 300.0,
        batch: int = 1,
        max_attempts: int = 10,
        max_backoff_seconds: float = 300.0,
        idle: float = 2.0,
    ) -> None:
        self._uow_factory = uow_factory
        self._notifier = notifier
        self._holder = holder
        self._lease = timedelta(seconds=lease_seconds)
        self._batch = batch
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff_seconds
        self._idle = idle
        self._wake = asyncio.Event()
        self._in_hand: list[int] = []
        self.sent = 0
        self.failures = 0

    def wake(self) -> None:
        """New notices were committed."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop`; an outage of the database is waited out with backoff."""
        await run_rounds(
            "notices",
            self.run_once,
            stop=stop,
            pause=partial(wait_for_any, self._wake, stop, idle=self._idle),
            backoff=Backoff(),
            log=log,
            # a notice stuck in Telegram's retries must not hold up a shutdown: it stays owed
            abandon=self._release_in_hand,
            wake=(self._wake,),
        )

    async def _release_in_hand(self) -> None:
        if not self._in_hand:
            return
        try:
            async with self._uow_factory() as uow:
                await uow.notices.release(self._in_hand, self._holder)
                await uow.commit()
        except Exception as exc:  # the claims then simply run out
            log.warning("could not release %d claimed notices: %s", len(self._in_hand), type(exc).__name__)
        self._in_hand = []

    async def run_once(self) -> int:
        """Claim a batch of due notices and send them; return how many were handled."""
        async with self._uow_factory() as uow:
            notices = list(
                await uow.notices.claim(
                    self._holder, limit=self._batch, lease=self._lease, max_attempts=self._max_attempts
                )
            )
            await uow.commit()
        self._in_hand = [notice.id for notice in notices]
        for notice in notices:
            try:
                await self._notifier.notify(
                    notice.complaint_id, notice.event, comment=notice.comment, original=notice.original
                )
            except (TelegramForbidden, TelegramBadRequest) as exc:
                # the resident blocked the bot or left Telegram: there is no one to tell
                log.info("notice %s of complaint %s undeliverable: %s", notice.id, notice.complaint_id, exc)
            except TelegramError as exc:
                self.failures += 1
                delay = min(2.0 ** (notice.attempts + 1), self._max_backoff)
                log.warning(
                    "notice %s for complaint %s failed, retry in %.0fs: %s",
                    notice.id,
                    notice.complaint_id,
                    delay,
                    exc.description,
                )
                async with self._uow_factory() as uow:
                    await uow.notices.failed(
                        notice.id,
                        f"{type(exc).__name__}: {exc.description}",
                        retry_in=timedelta(seconds=delay),
                        max_attempts=self._max_attempts,
                    )
                    await uow.commit()
                self._in_hand.remove(notice.id)
                continue
            async with self._uow_factory() as uow:
                await uow.notices.done(notice.id)
                await uow.commit()
            self._in_hand.remove(notice.id)
            self.sent += 1
        self._in_hand = []
        return len(notices)
