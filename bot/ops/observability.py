"""Health and metrics: `GET /healthz` and Prometheus `GET /metrics` on one small HTTP endpoint.

The metrics themselves are collected in `bot/ops/metrics.py`; each bot has its own registry. Neither
endpoint shows personal data or secrets: counts, department ids and error class names only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from bot.config import Config
from bot.core.domain import InboxStatus
from bot.ops.metrics import MetricSources, ShagymCollector, failure_reason
from bot.ops.retry import describe
from storage.queues import DepartmentQueue
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class Observability:
    """The /healthz and /metrics HTTP endpoint of one bot."""

    def __init__(
        self,
        config: Config,
        sources: MetricSources,
        uow_factory: Callable[[], UnitOfWork],
        queue: DepartmentQueue,
    ) -> None:
        self._config = config
        self._settings = config.observability
        self._uow_factory = uow_factory
        self._queue = queue
        self._sources = sources
        self._started = time.monotonic()
        self.collector = ShagymCollector(config, sources, uow_factory, queue)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._runner: web.AppRunner | None = None
        self._failing: set[str] = set()
        self.port: int | None = None

    def app(self) -> web.Application:
        """The aiohttp application (also used by tests)."""
        application = web.Application()
        application.router.add_get("/healthz", self._healthz)
        application.router.add_get("/metrics", self._metrics)
        return application

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the database and the department queue answer, with inbox counts and uptime."""
        timeout = self._settings.check_timeout_seconds
        database, queue = await asyncio.gather(
            asyncio.wait_for(self._inbox_counts(), timeout),
            asyncio.wait_for(self._queue.queues(), timeout),
            return_exceptions=True,
        )
        checks: dict[str, dict[str, Any]] = {}
        inbox: dict[str, int] | None = None
        for name, result in (("database", database), ("queue", queue)):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                checks[name] = {"ok": False, "error": failure_reason(result)}
                if name not in self._failing:
                    log.warning("health check %s failing: %s", name, describe(result))
                self._failing.add(name)
            else:
                checks[name] = {"ok": True}
                if name in self._failing:
                    log.info("health check %s passing again", name)
                self._failing.discard(name)
        if isinstance(database, dict):
            inbox = database
        checks["queue"]["backend"] = "redis" if self._config.storage.redis_url else "sql"
        healthy = all(check["ok"] for check in checks.values())
        body: dict[str, Any] = {
            "status": "ok" if healthy else "failing",
            "checks": checks,
            "inbox": None
            if inbox is None
            else {
                "pending": inbox.get(InboxStatus.PENDING.value, 0),
                "failed": inbox.get(InboxStatus.FAILED.value, 0),
            },
            "uptime_seconds": round(time.monotonic() - self._started, 1),
            "framework": self._config.telegram.framework,
            "mode": self._config.telegram.mode,
        }
        if self._sources.leases:
            body["leader"] = {lease.name: lease.is_leader for lease in self._sources.leases}
        return healthy, body

    async def _inbox_counts(self) -> dict[str, int]:
        # a real query on a real table: answers "is the database there, migrated and readable"
        async with self._uow_factory() as uow:
            return await uow.inbox.counts()

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, body = await self.health()
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        await self.collector.refresh()
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})

    async def start(self) -> None:
        """Listen on `observability.host:port` (port 0: any free port, then in `self.port`)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.host, self._settings.port)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._settings.port
        log.info("health and metrics on http://%s:%d/", self._settings.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
