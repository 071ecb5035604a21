"""What a complaint's card shows, read from its row, its chat, its resident and its audit log.

Shared by the card of its own (`bot/workers/cards.py`) and its line in a combined message
(`bot/workers/combined.py`).
"""

from __future__ import annotations

from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.views.cards import CardData
from storage.models import ComplaintRow
from storage.uow import UnitOfWork


def never_shown(row: ComplaintRow) -> bool:
    """No card or combined message ever showed it (both stamp delivered_at, which nothing clears): staff
    cannot have acted on it and no listing names it, so the lookups only a re-render needs are skipped."""
    return row.card_state is None and row.delivered_at is None


async def card_data(uow: UnitOfWork, row: ComplaintRow, *, phone: bool = True) -> CardData:
    """Collect what the card shows (`phone`: the resident's shared phone, for a card of its own)."""
    chat = await uow.chats.get(row.chat_id)
    shared = None
    if phone and row.source == ComplaintSource.PRIVATE.value and row.resident_id is not None:
        # one lookup by primary key; erasure and expiry clear resident_id, so the phone goes with it
        resident = await uow.residents.get(row.resident_id)
        shared = resident.phone if resident is not None else None
    return CardData(
        number=row.id,
        text=row.text,
        category=row.category,
        department=row.department_id,
        urgent=row.urgent,
        district=row.district,
        status=row.status if row.status != ComplaintStatus.QUEUED.value else ComplaintStatus.DELIVERED.value,
        source=row.source,
        chat_id=row.chat_id,
        message_id=row.message_id,
        chat_username=row.chat_username,
        chat_title=chat.title if chat else None,
        author=row.author_name,
        officials=tuple(row.officials or ()),
        photos=len(row.photos or ()),
        has_location=row.latitude is not None,
        needs_triage=row.needs_triage,
        confidence=row.confidence,
        alternative_category=row.alternative_category,
        alternative_confidence=row.alternative_confidence,
        reopened=row.reopen_count,
        duplicates=row.duplicate_count,
        actor=None if never_shown(row) else await uow.complaints.last_staff_name(row.id),
        phone=shared,
        repeat=row.card_repeat,
    )
