"""Long polling: the offset moves only after the batch is in the inbox."""

from __future__ import annotations

import asyncio
import logging

from bot.core.events import (
    ALLOWED_UPDATES,
)
from bot.core.text import is_int64
from bot.ingress.receiver import UpdateIngestor
from bot.ops.retry import Backoff, sleep_or_stop
from bot.telegram import TelegramError, TelegramGateway, TelegramRetryAfter

# named for what it is rather than where it sits: operators filter their logs by it
log = logging.getLogger("bot.ingress")


class Poller:
    """Long polling that confirms a batch to Telegram only after the inbox has it."""

    def __init__(self, gateway: TelegramGateway, ingestor: UpdateIngestor, *, timeout: int) -> None:
        self._gateway = gateway
        self._ingestor = ingestor
        self._timeout = timeout
        self.offset: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; a batch being stored when it is set is finished first.

        A failed getUpdates, or a batch the inbox could not take (the database is away), is retried with
        backoff; an unstored batch is not confirmed, so Telegram sends it again.
        """
        backoff = Backoff(first=1.0, cap=60.0)
        while not stop.is_set():
            try:
                await self._gateway.delete_webhook()
                break
            except TelegramError as exc:
                await backoff.failed(log, "polling: deleteWebhook", exc, stop)
        backoff.reset()
        while not stop.is_set():
            fetch = asyncio.ensure_future(
                self._gateway.get_updates(
                    offset=self.offset,
                    timeout=self._timeout,
                    limit=100,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            )
            stopped = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if fetch not in done:
                # stopping mid long-poll: nothing fetched is lost, Telegram redelivers unconfirmed updates
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
                break
            stopped.cancel()
            try:
                updates = fetch.result()
            except TelegramRetryAfter as exc:
                log.warning("polling: getUpdates answered 429, waiting %.0fs", exc.retry_after)
                await sleep_or_stop(stop, exc.retry_after)
                continue
            except Exception as exc:
                await backoff.failed(log, "polling: getUpdates", exc, stop)
                continue
            if not updates:
                backoff.reset()
                continue
            try:
                await self._ingestor.ingest(updates)  # durable first ...
            except Exception as exc:
                # not confirmed: the next getUpdates asks from the same offset and gets the batch again
                await backoff.failed(log, "polling: storing updates in the inbox", exc, stop)
                continue
            backoff.reset()
            ids = [u["update_id"] for u in updates if isinstance(u, dict) and is_int64(u.get("update_id"))]
            if ids:
                self.offset = max(ids) + 1  # ... then confirmed by the next getUpdates
            else:
                # only updates without an id (refused above): no offset confirms them, and asking again
                # at once would return the same batch in a busy loop until a good update comes after them
                await sleep_or_stop(stop, 1.0)
        await self._confirm()

    async def _confirm(self) -> None:
        if self.offset is None:
            return
        try:  # tell Telegram what we have stored, so a clean restart does not replay it
            await self._gateway.get_updates(
                offset=self.offset, timeout=0, limit=1, allowed_updates=list(ALLOWED_UPDATES)
            )
        except TelegramError as exc:
            log.info("final offset confirmation failed (updates will be redelivered): %s", exc)
