"""The explicit context handlers receive: every dependency they may use, passed in, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.config import Config
from bot.services.acknowledge import Acknowledger
from bot.services.desk import DeskActions
from bot.services.digest_service import DigestService
from bot.services.pipeline import ComplaintIntake
from bot.services.residents import ResidentNotifier, ResidentOffice
from bot.telegram.outbound import Outbound
from bot.views.cards import CardRenderer
from storage.uow import UnitOfWork


class CardRefresher(Protocol):
    """Re-renders a complaint's card in its department chat (bot/workers/cards.py)."""

    async def refresh(self, complaint_id: int) -> None:
        """Edit the card to show the complaint as it is now."""


class NoticeWaker(Protocol):
    """Tells the notice sender (bot/workers/notices.py) that notices were committed."""

    def wake(self) -> None:
        """Send what is owed now rather than at the next poll."""


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
    notices: NoticeWaker
    desk: DeskActions
    cards: CardRefresher
    digests: DigestService | None = None
