"""Running the bot: wires the pipeline to a Telegram adapter and runs ingress, inbox and delivery.

`shagym run` calls `run_bot`; tests and benchmarks use `ShagymBot` directly with their own stop event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TextIO

from bot.app.heap import settle_heap
from bot.app.resources import Resources, build_resources
from bot.app.roles import DEFAULT_ROLE, LOOPS, Loop, Role
from bot.classifier.base import Classifier
from bot.classifier.keyword_engine import KeywordClassifier
from bot.config import Config
from bot.core.mentions import MentionDetector
from bot.core.schedule import Job
from bot.ingress.polling import Poller
from bot.ingress.receiver import UpdateIngestor
from bot.ingress.webhook import WebhookServer
from bot.ops.logs import configure_logging, redact
from bot.ops.metrics import MetricSources
from bot.ops.observability import Observability
from bot.services.acknowledge import Acknowledger
from bot.services.desk import DeskActions
from bot.services.digest_service import DigestService
from bot.services.digests import DigestBuilder
from bot.services.escalation import EscalationJob
from bot.services.pipeline import ComplaintIntake, Enqueuer
from bot.services.residents import ResidentNotifier, ResidentOffice
from bot.services.retention import DataEraser
from bot.telegram import Keyboard, TelegramGateway, TelegramTransientError
from bot.telegram.outbound import Outbound
from bot.telegram.ratelimit import RateLimiter
from bot.views.cards import CardRenderer
from bot.workers.cards import CardDelivery
from bot.workers.department import DepartmentWorker
from bot.workers.inbox import InboxProcessor
from bot.workers.leases import Leadership
from bot.workers.loops import supervise
from bot.workers.notices import NoticeSender
from bot.workers.scheduler import Scheduler
from handlers.context import HandlerContext
from storage.base import utcnow

log = logging.getLogger(__name__)


async def build_classifier(config: Config) -> Classifier:
    """The configured classifier; a trained model is loaded (or trained) in a thread."""
    if config.classifier.engine == "keywords":
        return KeywordClassifier(config)
    from bot.classifier import build_classifier as build_model
    from bot.classifier import load_district_geojson

    geojson = config.classifier.districts_geojson
    polygons = load_district_geojson(geojson) if geojson is not None else None
    return await asyncio.to_thread(build_model, config, district_polygons=polygons)


@asynccontextmanager
async def open_gateway(config: Config) -> AsyncIterator[TelegramGateway]:
    """The Telegram adapter chosen by `telegram.framework`."""
    if config.telegram.framework == "aiogram":
        from bot.telegram.aiogram_adapter import aiogram_gateway

        async with aiogram_gateway(config.telegram) as gateway:
            yield gateway
        return
    from bot.telegram.ptb_adapter import ptb_gateway

    async with ptb_gateway(config.telegram) as ptb:
        yield ptb


class ShagymBot:
    """One running bot: ingress → inbox → handlers → department queues → cards."""

    def __init__(
        self,
        resources: Resources,
        gateway: TelegramGateway,
        classifier: Classifier,
        *,
        role: Role = DEFAULT_ROLE,
    ) -> None:
        config = resources.config
        self.config = config
        self.role = role  # which loops `run` starts (bot/app/roles.py)
        self.resources = resources
        self.gateway = gateway
        self.limiter = RateLimiter(config.telegram.rate_limit)
        self.renderer = CardRenderer(config)
        self.outbound = Outbound(gateway, self.limiter)
        self.detector = MentionDetector(config.officials)
        self.enqueuer = Enqueuer(resources.queue, resources.unit_of_work)
        self.intake = ComplaintIntake(
            config, self.detector, classifier, self.enqueuer, resources.unit_of_work
        )
        acknowledger = Acknowledger(config, self.outbound, self.limiter, self.renderer.department_name)
        # erasing a resident's data re-queues their cards, so the department chat loses the name too
        self.eraser = DataEraser(config.retention, resources.unit_of_work, refresh_card=self.enqueuer.enqueue)
        self.residents = ResidentOffice(
            config,
            self.intake,
            resources.unit_of_work,
            eraser=self.eraser,
            refresh_card=self.enqueuer.enqueue,
        )
        self.notifier = ResidentNotifier(config, resources.unit_of_work, self._notify_resident)
        self.delivery = CardDelivery(config, gateway, self.renderer, resources.unit_of_work, self.outbound)
        self.desk = DeskActions(
            config, resources.unit_of_work, self.enqueuer, gateway.get_chat_administrators
        )
        self.digests = DigestService(config, DigestBuilder(config, resources.unit_of_work), self.outbound)
        # one id per process: several instances (and a restarted one) never share claims or leases
        instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.instance = instance
        self.notices = NoticeSender(
            resources.unit_of_work,
            self.notifier,
            holder=instance,
            # one notice at a time, and a lease longer than Telegram's retries of one message (about a
            # minute, more under flood control): no other instance takes a notice still being sent
            lease_seconds=max(config.storage.queue_lease_seconds, 300.0),
            max_backoff_seconds=config.delivery.max_backoff_seconds,
        )
        self.context = HandlerContext(
            config=config,
            intake=self.intake,
            outbound=self.outbound,
            acknowledger=acknowledger,
            renderer=self.renderer,
            unit_of_work=resources.unit_of_work,
            residents=self.residents,
            notifier=self.notifier,
            notices=self.notices,
            desk=self.desk,
            cards=self.delivery,
            digests=self.digests,
        )
        self.processor = InboxProcessor(
            self.context, holder=instance, lease_seconds=config.storage.queue_lease_seconds
        )
        self.ingestor = UpdateIngestor(
            config, self.detector, resources.unit_of_work, on_stored=self.processor.wake
        )
        lease_ttl = config.storage.leader_lease_seconds
        self.polling_lease = Leadership(resources.unit_of_work, "polling", instance, ttl_seconds=lease_ttl)
        self.delivery_lease = Leadership(resources.unit_of_work, "delivery", instance, ttl_seconds=lease_ttl)
        self.workers = [
            DepartmentWorker(
                config,
                department.id,
                resources.queue,
                self.delivery,
                self.limiter,
                self.outbound,
                consumer=f"{instance}-{n}",
            )
            for department in config.departments
            for n in range(config.delivery.workers_per_department)
        ]
        wake = {worker.department_id: worker.wake for worker in self.workers}
        self.enqueuer.on_enqueued = lambda department: wake[department].set() if department in wake else None
        self.poller = Poller(gateway, self.ingestor, timeout=config.telegram.polling_timeout)
        # a generated secret joins the log scrubber's secrets before setWebhook can log it
        self.webhook = WebhookServer(config, self.ingestor, resources.unit_of_work, on_secret=redact)
        self.ready = asyncio.Event()  # set once ingress is up
        self.escalation = EscalationJob(config, resources.unit_of_work, self.outbound)
        self.scheduler = Scheduler(self._jobs(), resources.unit_of_work, config.tz, owner=instance)
        sources = MetricSources(
            self.ingestor.stats,
            self.processor,
            self.delivery.stats,
            self.intake.classify_seconds,
            # the health check shows the leases this process competes for
            leases=tuple(
                lease
                for lease, loop in ((self.polling_lease, "ingress"), (self.delivery_lease, "delivery"))
                if loop in LOOPS[role]
            ),
            notices=self.notices,
        )
        self.observability = Observability(config, sources, resources.unit_of_work, resources.queue)

    def _jobs(self) -> list[Job]:
        async def check_deadlines(slot: datetime) -> None:
            await self.escalation.run(utcnow())

        every = timedelta(minutes=self.config.deadlines.check_every_minutes)
        return [Job("deadlines", check_deadlines, every=every), *self.digests.jobs(), *self.eraser.jobs()]

    async def _notify_resident(self, user_id: int, text: str, keyboard: Keyboard | None) -> None:
        # raising: the notice sender keeps a notice Telegram did not take and tries again later
        await self.outbound.send(user_id, text, keyboard=keyboard, html=False, raising=True)

    async def _wait_for_telegram(self, stop: asyncio.Event) -> dict[str, Any] | None:
        """getMe, retried with backoff while the Bot API is unreachable (a network outage at boot)."""
        delay = 1.0
        while not stop.is_set():
            try:
                return await self.gateway.get_me()
            except TelegramTransientError as exc:
                log.warning("Bot API unreachable, retrying in %.0fs: %s", delay, exc.description)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, 60.0)
        return None

    async def _deliver_cards(self, stop: asyncio.Event) -> None:
        """The delivery leader's duty: re-queue what a previous leader left, then run the workers."""
        swept = await self.enqueuer.sweep_new()
        if swept:
            log.info("re-queued %d complaints left unqueued by a previous run", swept)
        workers = [asyncio.create_task(w.run(stop), name=f"delivery-{i}") for i, w in enumerate(self.workers)]
        results = await asyncio.gather(*workers, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then stop ingress first and let work in hand finish."""
        me = await self._wait_for_telegram(stop)
        if me is None:
            return
        log.info(
            "bot @%s started (%s, %s)",
            me.get("username"),
            self.config.telegram.framework,
            self.config.telegram.mode,
        )
        loops = LOOPS[self.role]
        if self.role != "all":
            log.info("role %s: runs %s", self.role, ", ".join(sorted(loops)))
        receiving = "ingress" in loops
        # the webhook's secret comes first (configured, or shared through the database): nothing is
        # served, and no worker started, before it is known
        if (
            receiving
            and self.config.telegram.mode == "webhook"
            and not await self.webhook.start(self.gateway, stop)
        ):
            return
        ingress_stop = asyncio.Event()
        work_stop = asyncio.Event()
        # every instance of a role works its share of the inbox, the notices and the scheduler (each
        # claims its work in the db); only the leader polls and delivers cards (see bot/workers/leases.py)
        # each loop rides out outages itself; `supervise` restarts one that ends on anything else
        runs: dict[Loop, Callable[[asyncio.Event], Awaitable[None]]] = {
            "inbox": self.processor.run,
            "scheduler": self.scheduler.run,
            "notices": self.notices.run,
            "delivery": partial(self.delivery_lease.lead, self._deliver_cards),
        }
        work = [
            asyncio.create_task(supervise(name, run, work_stop, log), name=name)
            for name, run in runs.items()
            if name in loops
        ]
        if not receiving or self.config.telegram.mode == "webhook":  # nothing to poll
            ingress = asyncio.create_task(_wait(ingress_stop), name="webhook" if receiving else "no-ingress")
        else:
            ingress = asyncio.create_task(
                supervise("polling", partial(self.polling_lease.lead, self.poller.run), ingress_stop, log),
                name="polling",
            )
        if self.config.observability.enabled:
            try:
                await self.observability.start()
            except OSError as exc:  # e.g. the port is taken: the bot still serves residents
                log.error("health and metrics endpoint not started: %s", exc)
        self.ready.set()
        try:
            stopped = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({stopped, ingress, *work}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            stopped.cancel()
        finally:
            ingress_stop.set()
            await self.webhook.stop()
            await self.observability.stop()
            await asyncio.gather(ingress, return_exceptions=True)
            work_stop.set()
            results = await asyncio.gather(*work, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                    log.error("worker ended with an error: %r", result)
            log.info("bot stopped")


async def _wait(event: asyncio.Event) -> None:
    await event.wait()


async def serve(config: Config, stop: asyncio.Event, *, role: Role = DEFAULT_ROLE) -> None:
    """Build everything for `config`, run the loops of `role` until `stop`, and close it all."""
    async with AsyncExitStack() as stack:
        resources = await stack.enter_async_context(build_resources(config))
        classifier = await build_classifier(config)
        gateway = await stack.enter_async_context(open_gateway(config))
        bot = ShagymBot(resources, gateway, classifier, role=role)
        settle_heap()  # start-up is over: what it built lives as long as the process
        await bot.run(stop)


def run_bot(config: Config, *, stderr: TextIO, role: Role = DEFAULT_ROLE) -> int:
    """`shagym run [--role]`: serve until SIGTERM or SIGINT; returns the exit code."""
    if not config.telegram.token.get_secret_value():
        print("telegram.token is empty: set it in the config or in SHAGYM_BOT_TOKEN", file=stderr)
        return 2
    configure_logging(
        config.logging.level,
        json_format=config.logging.json_format,
        # a webhook secret generated at start is added when it is read (`redact`, see ShagymBot)
        secrets=[
            config.telegram.token.get_secret_value(),
            config.telegram.webhook.secret_token.get_secret_value(),
        ],
        stream=stderr,
    )
    for warning in config.warnings:  # valid but probably not meant, e.g. a no-break space in an alias
        log.warning("config: %s", warning)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # the default role is not passed: `serve(config, stop)` stays the whole bot, as it always was
        await (serve(config, stop) if role == DEFAULT_ROLE else serve(config, stop, role=role))

    try:
        asyncio.run(main())
    except Exception as exc:  # logged with the token scrubbed, then a clean non-zero exit
        log.exception("the bot stopped on an error: %s", exc)
        return 1
    return 0
