"""Staff corrections: complaints rerouted to another category, read from storage for retraining."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.classifier.train import Correction

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

__all__ = ["REROUTED", "load_corrections"]

REROUTED = "rerouted"


async def load_corrections(uow_factory: Callable[[], UnitOfWork]) -> list[Correction]:
    """Every rerouting (oldest first): the complaint's text and the category staff moved it to.

    Events whose details lack a string "category" are skipped; later reroutings of the same text win
    when the corrections are applied.
    """
    async with uow_factory() as uow:
        rows = await uow.corrections.texts_with_events(REROUTED)
    corrections: list[Correction] = []
    for text, details in rows:
        if not isinstance(details, dict):
            continue
        category = details.get("category")
        previous = details.get("previous_category")
        if isinstance(category, str) and category and isinstance(text, str) and text.strip():
            corrections.append(Correction(text, category, previous if isinstance(previous, str) else None))
    return corrections
