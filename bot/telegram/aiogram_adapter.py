"""The aiogram adapter: Shagym's TelegramGateway on aiogram 3's Bot and aiohttp session."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

from aiogram import Bot
from aiogram import types as aiogram_types
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import Response
from aiogram.methods.base import TelegramMethod, TelegramType
from aiogram.types import BufferedInputFile, LinkPreviewOptions

from bot import telegram as port
from bot.config import TelegramConfig
from bot.telegram.gateway import BotTypes, LibraryGateway

log = logging.getLogger(__name__)

T = TypeVar("T")


class _RawGetUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates returning the wire JSON: the inbox stores exactly what Telegram sent, and one
    update aiogram cannot model never blocks the batch it came in."""

    __returning__: ClassVar[Any] = list[dict[str, Any]]
    __api_method__: ClassVar[str] = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


_LONG_POLL_MARGIN = 15.0


class _PinnedResponseTypes(BaseRequestMiddleware):
    """Holds each called method's `Response[T]`, which aiogram parametrises on every answer.

    pydantic caches a parametrised model only weakly, and the model sits in reference cycles, so each
    garbage collection drops it and the next call rebuilds it (a few milliseconds of the event loop per
    API call); one strong reference per method keeps it built.
    """

    def __init__(self) -> None:
        self._types: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        kind = type(method)
        if kind not in self._types:
            self._types[kind] = Response[kind.__returning__]  # type: ignore[name-defined]  # built at run time
        return await make_request(bot, method)


class AiogramGateway(LibraryGateway):
    """TelegramGateway over aiogram; translates aiogram's errors into the port's."""

    _bot: Bot
    types = BotTypes.of(aiogram_types, upload=BufferedInputFile)

    def __init__(self, config: TelegramConfig) -> None:
        # a request Telegram does not answer within the time-out fails as transient and is retried
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(config.api_url), timeout=config.request_timeout_seconds
        )
        session.middleware(_PinnedResponseTypes())
        self._bot = Bot(
            token=config.token.get_secret_value(),
            session=session,
            default=DefaultBotProperties(link_preview=LinkPreviewOptions(is_disabled=True)),
        )
        self._polling_timeout = config.polling_timeout
        # a long poll may take the polling timeout plus this before it counts as lost
        self._long_poll_margin = min(_LONG_POLL_MARGIN, config.request_timeout_seconds)

    @property
    def bot(self) -> Bot:
        """The aiogram Bot (for tests and benchmarks)."""
        return self._bot

    async def _call(self, method: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except TelegramRetryAfter as exc:
            raise port.TelegramRetryAfter(exc.message, float(exc.retry_after), method=method) from None
        except TelegramForbiddenError as exc:
            raise port.TelegramForbidden(exc.message, method=method) from None
        except TelegramEntityTooLarge as exc:  # a subclass of the network error, but retrying cannot help
            raise port.TelegramBadRequest(exc.message, method=method) from None
        except (TelegramBadRequest, TelegramNotFound) as exc:
            raise port.refusal(exc.message, method=method) from None
        except TelegramMigrateToChat as exc:
            raise port.migration(exc.message, method=method) from None
        except (TelegramServerError, TelegramNetworkError, ClientDecodeError, TimeoutError) as exc:
            # ClientDecodeError: a non-JSON answer, e.g. a proxy's HTML 502 page
            raise port.TelegramTransientError(str(exc) or type(exc).__name__, method=method) from None
        except TelegramConflictError as exc:
            raise port.TelegramTransientError(exc.message, method=method) from None
        except TelegramUnauthorizedError:
            # never echo the request: it would carry the token
            raise port.TelegramError("the bot token was rejected (401 Unauthorized)", method=method) from None
        except TelegramAPIError as exc:
            raise port.TelegramError(exc.message, method=method) from None

    async def get_me(self) -> dict[str, Any]:
        """The bot's own user."""
        me = await self._call("getMe", self._bot.get_me())
        return me.model_dump(mode="json", exclude_none=True, by_alias=True)

    async def get_updates(
        self, *, offset: int | None, timeout: int, limit: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll for raw updates."""
        method = _RawGetUpdates(offset=offset, limit=limit, timeout=timeout, allowed_updates=allowed_updates)
        request_timeout = math.ceil(timeout + self._long_poll_margin)
        return await self._call("getUpdates", self._bot(method, request_timeout=request_timeout))

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._bot.session.close()


@asynccontextmanager
async def aiogram_gateway(config: TelegramConfig) -> AsyncIterator[AiogramGateway]:
    """An AiogramGateway closed on exit."""
    gateway = AiogramGateway(config)
    try:
        yield gateway
    finally:
        await gateway.close()
