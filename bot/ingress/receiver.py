"""Getting updates in durably: filter in memory, write to the inbox, and only then confirm to Telegram.

aiogram's polling moves the offset as soon as it hands an update to a handler and its webhook handler
answers 200 before handling; both lose updates on a crash. Here the offset moves (and the webhook
answers) only after the batch is in the inbox, so a crash can cause a redelivery but never a loss.

The webhook never takes an update without Telegram's secret header: the configured secret, or one
generated once and kept in the `settings` table, so every instance on the database checks the same one.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.config import Config
from bot.core.events import (
    ALLOWED_UPDATES,
    CallbackPress,
    IncomingMessage,
    MalformedUpdate,
    is_digest_command,
    parse_update,
)
from bot.core.mentions import MentionDetector
from bot.core.text import is_int64, storable_text
from bot.telegram import TelegramError, TelegramGateway, TelegramRetryAfter
from bot.workers.loops import Backoff, sleep_or_stop
from storage.repositories import InboxItem
from storage.uow import UnitOfWork

# named for what it is rather than where it sits: operators filter their logs by it
log = logging.getLogger("bot.ingress")

_KEEP_KINDS = frozenset({"callback_query", "my_chat_member"})
# Telegram's updates are a few kilobytes, a long text with its entities and a quoted reply far below this
MAX_BODY_BYTES = 1024 * 1024
# Telegram's objects nest about ten levels (callback_query.message.reply_markup.inline_keyboard ...);
# a deeper body is hostile, and would hit the recursion limit when it is serialized for the inbox
MAX_DEPTH = 64
SECRET_SETTING = "webhook_secret"


def refusal(raw: Any) -> str | None:
    """Why an update cannot be taken at all (nothing to key it on in the inbox), or None if it can."""
    if not isinstance(raw, dict):
        return "not a JSON object"
    if not is_int64(raw.get("update_id")):
        return "no integer update_id"
    if _deeper_than(raw, MAX_DEPTH):
        return f"nested deeper than {MAX_DEPTH} levels"
    return None


def _deeper_than(value: Any, limit: int) -> bool:
    # iterative: the point is to refuse what recursion cannot take
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


@dataclass(slots=True)
class IngressStats:
    """Counters of what came in and what was kept."""

    received: int = 0
    stored: int = 0
    dropped_untagged: int = 0
    dropped_other: int = 0
    refused: int = 0  # no update_id to key it on, or nested too deep: never stored
    malformed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class UpdateIngestor:
    """Decides in memory which updates matter and stores those in the inbox, all of a batch at once."""

    def __init__(
        self,
        config: Config,
        detector: MentionDetector,
        uow_factory: Callable[[], UnitOfWork],
        *,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._detector = detector
        self._uow_factory = uow_factory
        self._on_stored = on_stored
        self._department_chats = frozenset(d.chat_id for d in config.departments)
        # chats where /digest works: officials' and heads' digest chats, department chats, allowed chats
        self._digest_chats = self._department_chats | frozenset(
            [o.digest.chat_id for o in config.officials if o.digest is not None]
            + [d.head for d in config.departments if d.head is not None]
            + list(config.digests.allowed_chats)
            + list(config.telegram.admins)
        )
        self.stats = IngressStats()

    def select(self, raw: Any) -> InboxItem | None:
        """The inbox item for an update the bot acts on, or None for chatter we must not keep."""
        self.stats.received += 1
        reason = refusal(raw)
        if reason is not None:
            # polling cannot confirm it by offset either: the next stored update's offset passes it
            self.stats.refused += 1
            log.warning("update refused, not stored: %s", reason)
            return None
        try:
            event = parse_update(raw)
        except MalformedUpdate as exc:
            self.stats.malformed += 1
            update_id = raw["update_id"]
            log.warning("malformed update kept for inspection: %s", exc, extra={"update_id": update_id})
            return InboxItem(update_id=update_id, kind="malformed", payload=_storable_payload(raw))
        if isinstance(event, IncomingMessage):
            if not self._keeps(event):
                self.stats.dropped_untagged += 1
                return None
            kind = event.kind
            item = InboxItem(event.update_id, kind, _storable_payload(raw), event.chat.id, event.message_id)
        else:
            kind = "callback_query" if isinstance(event, CallbackPress) else event.kind
            if kind not in _KEEP_KINDS:
                self.stats.dropped_other += 1
                return None
            item = InboxItem(event.update_id, kind, _storable_payload(raw))
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        return item

    def _keeps(self, event: IncomingMessage) -> bool:
        if event.chat.is_private:
            return event.sender is None or not event.sender.is_bot
        if event.chat.id in self._digest_chats and is_digest_command(event.text):
            return True
        if event.chat.id in self._department_chats:
            # staff replying to the bot's cards (comments on a resolution)
            return event.reply_to is not None and not event.is_channel_post
        if not self._config.watch.watches(event.chat.id):
            return False
        return bool(self._detector.detect(event))

    async def ingest(self, updates: Sequence[Any]) -> int:
        """Store the updates worth keeping in one transaction; return how many were new."""
        items = [item for item in (self.select(raw) for raw in updates) if item is not None]
        if not items:
            return 0
        async with self._uow_factory() as uow:
            new_ids = await uow.inbox.add_many(items)
            await uow.commit()
        self.stats.stored += len(new_ids)
        if new_ids and self._on_stored is not None:
            self._on_stored()
        return len(new_ids)


def _storable_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The update as every database takes it: one value no column can hold (NaN, a lone surrogate)
    must not fail the whole batch's insert, and so stall the polling that retries it."""
    try:
        json.dumps(payload, allow_nan=False, ensure_ascii=False).encode("utf-8")
        return payload
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        cleaned = _clean(payload)
        return cleaned if isinstance(cleaned, dict) else {"raw": repr(payload)[:10000]}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_clean(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return repr(value)[:1000]


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


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def generate_secret() -> str:
    """A webhook secret Telegram accepts (1-256 of A-Za-z0-9_-): 32 random bytes, URL-safe base64."""
    return secrets.token_urlsafe(32)


class WebhookServer:
    """An aiohttp endpoint that answers Telegram only after the update is in the inbox.

    Every request must carry the secret given to setWebhook; none is ever served without one.
    """

    def __init__(
        self,
        config: Config,
        ingestor: UpdateIngestor,
        uow_factory: Callable[[], UnitOfWork],
        *,
        on_secret: Callable[[str], None] | None = None,
    ) -> None:
        self._config = config
        self._ingestor = ingestor
        self._uow_factory = uow_factory
        self._on_secret = on_secret  # the log scrubber learns a generated secret before it is used
        self._secret: str | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def secret(self) -> str | None:
        """The secret requests must carry (None until `start` has resolved it)."""
        return self._secret

    def app(self) -> web.Application:
        """The aiohttp application (also used by tests)."""
        application = web.Application(client_max_size=MAX_BODY_BYTES)
        application.router.add_post(self._config.telegram.webhook.path, self._handle)
        return application

    async def _handle(self, request: web.Request) -> web.Response:
        secret = self._secret
        if not secret:  # not resolved yet: nothing is served without a secret
            return web.Response(status=503, text="not ready")
        given = request.headers.get(SECRET_HEADER)
        # headers are decoded with surrogateescape: encode the same way so any bytes compare, never raise
        if given is None or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), secret.encode()
        ):
            problem = "without the" if given is None else "with a wrong"
            log.warning("webhook request %s secret token refused (401)", problem)
            return web.Response(status=401, text="unauthorized")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return self._too_large(request.content_length)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._too_large(None)
        try:
            update = json.loads(body)
        except (RecursionError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError included
            log.warning("webhook body refused (400): not JSON the parser can take (%s)", type(exc).__name__)
            return web.Response(status=400, text="bad request")
        reason = refusal(update)
        if reason is not None:
            log.warning("webhook update refused (400), not stored: %s", reason)
            return web.Response(status=400, text="bad request")
        try:
            await self._ingestor.ingest([update])
        except Exception:
            # a non-2xx makes Telegram retry later: the update is not lost
            log.exception("could not store a webhook update; Telegram will retry")
            return web.Response(status=500, text="retry later")
        return web.Response(text="ok")

    @staticmethod
    def _too_large(size: int | None) -> web.Response:
        shown = "" if size is None else f" ({size} bytes)"
        log.warning("webhook body refused (413): larger than %d bytes%s", MAX_BODY_BYTES, shown)
        return web.Response(status=413, text="too large")

    def _learned(self, secret: str) -> None:
        if self._on_secret is not None:
            self._on_secret(secret)

    async def resolve_secret(self, stop: asyncio.Event | None = None) -> str | None:
        """The configured secret, else the one in `settings` (generated by whichever instance stored it
        first); the database is retried while it is away. None if `stop` is set first."""
        configured = self._config.telegram.webhook.secret_token.get_secret_value()
        if configured:
            return configured
        backoff = Backoff(first=1.0, cap=30.0)
        while stop is None or not stop.is_set():
            candidate = generate_secret()
            self._learned(candidate)  # a database driver logging at DEBUG shows the insert's parameters
            try:
                async with self._uow_factory() as uow:
                    secret = await uow.settings.get_or_create(SECRET_SETTING, candidate)
                    await uow.commit()
                self._learned(secret)
                return secret
            except Exception as exc:
                if stop is None:
                    raise
                await backoff.failed(log, "webhook: reading the shared secret", exc, stop)
        return None

    async def start(self, gateway: TelegramGateway, stop: asyncio.Event | None = None) -> bool:
        """Resolve the secret, listen, and register the public URL and the secret with Telegram.

        False when `stop` was set before the secret could be read (nothing is listening then).
        """
        hook = self._config.telegram.webhook
        secret = await self.resolve_secret(stop)
        if secret is None:
            return False
        self._learned(secret)
        self._secret = secret
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, hook.host, hook.port)
            await site.start()
            sockets = getattr(site._server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1] if sockets else hook.port
            if hook.url:
                await gateway.set_webhook(
                    hook.url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES)
                )
        except BaseException:
            await self.stop()
            raise
        return True

    async def stop(self) -> None:
        """Stop listening; requests in flight finish first."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
