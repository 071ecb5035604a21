"""The explicit context handlers receive: every dependency they may use, passed in, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.cards import CardRenderer
from bot.config import Config
from bot.delivery import CardDelivery
from bot.desk import DeskActions
from bot.digest_service import DigestService
from bot.notices import NoticeSender
from bot.outbound import Acknowledger, Outbound
from bot.pipeline import ComplaintIntake
from bot.residents import ResidentNotifier, ResidentOffice
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
