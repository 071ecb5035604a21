"""The explicit context handlers receive: every dependency they may use, passed in, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Config
from bot.services.desk import DeskActions
from bot.services.digest_service import DigestService
from bot.services.pipeline import ComplaintIntake
from bot.services.residents import ResidentNotifier, ResidentOffice
from bot.telegram.outbound import Acknowledger, Outbound
from bot.views.cards import CardRenderer
from bot.workers.cards import CardDelivery
from bot.workers.notices import NoticeSender
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """Use cases and services available to handlers."""

    config: Config
    intake: ComplaintIntake
    outbound: Outbound
    acknowledger: Acknowledger
    renderer: CardRenderer
    unit_of_work: Callable[[], UnitOfWork]
    residents: ResidentOffice
    notifier: ResidentNotifier
    notices: NoticeSender
    desk: DeskActions
    cards: CardDelivery
    digests: DigestService | None = None
