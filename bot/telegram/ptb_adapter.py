"""The python-telegram-bot adapter: Shagym's TelegramGateway on ptb 22's Bot and httpx.

Only ptb's `Bot` is used: ingress (polling loop, webhook server), handlers and retry policy are shared
with the aiogram adapter, so no `Application`, handlers or ptb update queue are involved.

Errors are classified by the HTTP status and the description Telegram sent, exactly as aiogram does
(`aiogram.client.session.base.BaseSession.check_response`): ptb folds 401 and 404 into `InvalidToken`,
every status other than 400/403/409 into `NetworkError`, and rewrites descriptions ("Bad Request: chat
not found" becomes "Chat not found"). `_StatusRequest` therefore raises `_ApiError` with the status and
the original description, and `PtbGateway._call` maps it with the same table as `AiogramGateway._call`.
ptb's own exceptions (time-outs, connection errors, an empty token) are translated too.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import logging
import re
import warnings
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import telegram
from telegram import Bot, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot import telegram as port
from bot.config import TelegramConfig
from bot.telegram.gateway import BotTypes, LibraryGateway

T = TypeVar("T")

# Like aiogram's session (60 s per request by default, `telegram.request_timeout_seconds`): a short read
# time-out makes a slow answer look like a failure, and a retried sendMessage can post twice (the Bot API
# has no idempotency key).
_CONNECT_TIMEOUT = 10.0
_REQUEST_TIMEOUT = 60.0
_POOL_TIMEOUT = 5.0
_LONG_POLL_MARGIN = 15  # the getUpdates read time-out is the polling timeout plus this

_TOKEN_REJECTED = "the bot token was rejected (401 Unauthorized)"

log = logging.getLogger(__name__)


class _ApiError(TelegramError):
    """A non-2xx Bot API answer, with the HTTP status and Telegram's description unchanged.

    A subclass of ptb's TelegramError, so `BaseRequest` passes it through untouched."""

    __slots__ = ("description", "parameters", "status")

    def __init__(self, status: int, description: str, parameters: dict[str, Any]) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class _StatusRequest(HTTPXRequest):
    """ptb's httpx transport, raising `_ApiError` for error answers instead of ptb's classification."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if 200 <= code <= 299:
            return code, payload
        try:
            body = json.loads(payload)
        except ValueError:
            body = None
        if not isinstance(body, dict):  # e.g. an HTML page from a proxy in front of the Bot API
            raise _ApiError(code, f"HTTP {code} with a non-JSON body", {})
        parameters = body.get("parameters")
        description = body.get("description")
        if not isinstance(description, str):
            description = f"HTTP {code}"
        raise _ApiError(code, description, parameters if isinstance(parameters, dict) else {})


def _request(*, connections: int, timeout: float = _REQUEST_TIMEOUT) -> _StatusRequest:
    return _StatusRequest(
        connection_pool_size=connections,
        connect_timeout=min(_CONNECT_TIMEOUT, timeout),
        read_timeout=timeout,
        write_timeout=timeout,
        media_write_timeout=timeout,
        pool_timeout=_POOL_TIMEOUT,
    )


def _retry_seconds(exc: RetryAfter) -> float:
    """The wait a RetryAfter names, in seconds.

    Since ptb 22.2, reading `retry_after` warns that it will become a timedelta (it is an int or a float
    until then, unless the operator set PTB_TIMEDELTA): that one warning is silenced, either form taken."""
    with warnings.catch_warnings():  # no await inside: no other task runs while the filter is in place
        warnings.filterwarnings("ignore", r".*`retry_after` will be of type", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _allow_raw_get_updates() -> None:
    """Silence ptb's hint that `Bot.get_updates` exists, for this module's raw getUpdates call only.

    `do_api_request` issues the hint before its first await, so a `catch_warnings` block would have to
    span the whole long poll, changing the filters under every other task. This filter matches only that
    message, from this module; it is put in place before each call (a test runner resets the filters)."""
    warnings.filterwarnings(
        "ignore", r"Please use 'Bot\.getUpdates'", PTBUserWarning, module=re.escape(__name__) + r"\Z"
    )


class PtbGateway(LibraryGateway):
    """TelegramGateway over python-telegram-bot; translates its errors into the port's."""

    _bot: Bot
    types = BotTypes.of(telegram, upload=InputFile)

    def __init__(self, config: TelegramConfig) -> None:
        self._token = config.token.get_secret_value()
        try:
            self._bot = Bot(
                self._token,
                base_url=config.api_url + "/bot",
                base_file_url=config.api_url + "/file/bot",
                request=_request(connections=256, timeout=config.request_timeout_seconds),
                # one long poll at a time: ptb's getUpdates transport has a single connection
                get_updates_request=_request(connections=1, timeout=config.request_timeout_seconds),
            )
        except InvalidToken:
            raise port.TelegramError("the bot token is empty or malformed") from None
        self._polling = asyncio.Lock()
        # a long poll may take the polling timeout plus this before it counts as lost
        self._long_poll_margin = min(_LONG_POLL_MARGIN, config.request_timeout_seconds)

    @property
    def bot(self) -> Bot:
        """The ptb Bot (for tests and benchmarks)."""
        return self._bot

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    async def _call(self, method: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except _ApiError as exc:
            raise self._translate_status(method, exc) from None
        except RetryAfter as exc:
            raise port.TelegramRetryAfter(exc.message, _retry_seconds(exc), method=method) from None
        except ChatMigrated as exc:
            raise port.migration(exc.message, method=method) from None
        except Forbidden as exc:
            raise port.TelegramForbidden(exc.message, method=method) from None
        except BadRequest as exc:  # before NetworkError: ptb's BadRequest is a NetworkError
            raise port.refusal(exc.message, method=method) from None
        except InvalidToken:
            # ptb's own text can carry the token (Bot.initialize puts it in the message)
            raise port.TelegramError(_TOKEN_REJECTED, method=method) from None
        except (Conflict, NetworkError, TimeoutError) as exc:  # NetworkError covers TimedOut
            description = self._redact(str(exc) or type(exc).__name__)
            raise port.TelegramTransientError(description, method=method) from None
        except TelegramError as exc:
            raise port.TelegramError(self._redact(exc.message), method=method) from None

    @staticmethod
    def _translate_status(method: str, exc: _ApiError) -> port.TelegramError:
        """The status table of aiogram's check_response, then of AiogramGateway._call."""
        description, status = exc.description, exc.status
        retry_after = exc.parameters.get("retry_after")
        if retry_after:
            return port.TelegramRetryAfter(description, float(retry_after), method=method)
        if exc.parameters.get("migrate_to_chat_id"):
            return port.migration(description, method=method)
        if status in (400, 404):
            return port.refusal(description, method=method)
        if status == 409:
            return port.TelegramTransientError(description, method=method)
        if status == 401:
            return port.TelegramError(_TOKEN_REJECTED, method=method)
        if status == 403:
            return port.TelegramForbidden(description, method=method)
        if status == 413:  # too large never gets smaller by retrying
            return port.TelegramBadRequest(description, method=method)
        if status >= 500:
            return port.TelegramTransientError(description, method=method)
        return port.TelegramError(description, method=method)

    async def open(self) -> None:
        """Initialise ptb's HTTP clients and check the token with getMe.

        An unreachable Bot API is not fatal here: the HTTP clients are ready by then, and the bot
        retries getMe with backoff before it starts (as on aiogram, which opens without a request).
        """
        try:
            await self._call("getMe", self._bot.initialize())
        except port.TelegramTransientError as exc:
            log.warning("Bot API unreachable while opening; the bot retries: %s", exc.description)

    async def get_me(self) -> dict[str, Any]:
        """The bot's own user."""
        me = await self._call("getMe", self._bot.get_me())
        return me.to_dict()

    async def get_updates(
        self, *, offset: int | None, timeout: int, limit: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll for raw updates.

        `Bot.get_updates` parses the batch into `Update` objects and fails the whole batch on one it
        cannot model, so this asks through `Bot.do_api_request`, which returns the JSON Telegram sent (and
        still uses the dedicated getUpdates transport)."""
        data: dict[str, Any] = {
            "offset": offset,
            "limit": limit,
            "timeout": timeout,
            "allowed_updates": allowed_updates,
        }
        _allow_raw_get_updates()
        async with self._polling:
            result = await self._call(
                "getUpdates",
                self._bot.do_api_request("getUpdates", data, read_timeout=timeout + self._long_poll_margin),
            )
        return cast(list[dict[str, Any]], result)

    async def close(self) -> None:
        """Close ptb's HTTP clients."""
        await self._bot.shutdown()


@asynccontextmanager
async def ptb_gateway(config: TelegramConfig) -> AsyncIterator[PtbGateway]:
    """A PtbGateway, initialised (token checked) on entry and shut down on exit."""
    gateway = PtbGateway(config)
    try:
        await gateway.open()
        yield gateway
    finally:
        await gateway.close()
