"""The city-day's storage and checks: a fresh PostgreSQL database and Redis db before the run, then waiting
for every card and counting what reached the department chats (`bench.city_day`)."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.city_traffic import Traffic
from storage import migrate
from storage.db import create_engine
from storage.models import ComplaintRow, InboxRow
from tests.fakes.bot_api import FakeBotAPI, SentCall


class ServiceUnavailable(RuntimeError):
    """PostgreSQL or Redis cannot be reached."""


async def fresh_postgres(url: str) -> None:
    """Drop and create the database in `url`, then migrate it to the head revision."""
    target = make_url(url)
    name = target.database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    last_error: Exception | None = None
    for maintenance in ("postgres", "test", "template1"):
        admin = create_async_engine(target.set(database=maintenance), isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
            break
        except Exception as exc:  # try the next maintenance database
            last_error = exc
        finally:
            await admin.dispose()
    else:
        raise ServiceUnavailable(f"cannot create database {name!r}: {last_error}")
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def flush_redis(url: str) -> None:
    """Empty the Redis database in `url` (the bench's own database number)."""
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


# --- the cards ---------------------------------------------------------------------------------------------

CARD_NUMBER = re.compile(r"d:(?:take|resolve):(\d+)")


def card_number(call: SentCall) -> int | None:
    match = CARD_NUMBER.search(json.dumps(call.params.get("reply_markup") or {}))
    return int(match.group(1)) if match else None


def _percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


async def wait_for_cards(
    fake: FakeBotAPI,
    resources: Any,
    departments: dict[int, str],
    timeout: float,
    exited: Callable[[], str | None],
) -> bool:
    """Wait until the inbox is worked off, the queues are empty and every unmerged complaint has its card."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (role := exited()) is not None:
            raise RuntimeError(f"the bot ({role}) exited during the run")
        async with resources.unit_of_work() as uow:
            pending = await uow.session.scalar(
                select(func.count()).select_from(InboxRow).where(InboxRow.status == "pending")
            )
            open_complaints = await uow.session.scalar(
                select(func.count()).select_from(ComplaintRow).where(ComplaintRow.status != "duplicate")
            )
        depth = 0
        for queue in departments.values():
            depth += (await resources.queue.stats(queue)).depth
        carded = {
            number
            for call in fake.sent
            if call.ok and call.method in ("sendMessage", "sendPhoto") and call.chat_id in departments
            if (number := card_number(call)) is not None
        }
        if not pending and not depth and len(carded) >= (open_complaints or 0):
            return True
        await asyncio.sleep(0.5)
    return False


async def collect(
    fake: FakeBotAPI,
    resources: Any,
    departments: dict[int, str],
    traffic: Traffic,
    tagged_at: dict[tuple[int, int], float],
) -> dict[str, Any]:
    async with resources.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                select(
                    ComplaintRow.id,
                    ComplaintRow.chat_id,
                    ComplaintRow.message_id,
                    ComplaintRow.status,
                    ComplaintRow.urgent,
                )
            )
        ).all()
        inbox = dict(
            (await uow.session.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status))).all()
        )
    by_id = {row.id: row for row in rows}
    cards: dict[int, SentCall] = {}  # each complaint's first card
    seen: set[tuple[int, Any]] = set()
    repeated_cards = 0  # a second card for the same complaint in the same chat: must not happen
    moved = 0  # an edit moved the complaint to another department, which gets a card of its own
    by_department: Counter[str] = Counter()
    edits = 0
    for call in fake.sent:
        if not call.ok or call.chat_id not in departments:
            continue
        if call.method in ("editMessageText", "editMessageCaption"):
            edits += 1
            continue
        if call.method not in ("sendMessage", "sendPhoto"):
            continue
        number = card_number(call)
        if number is None:
            continue
        if (number, call.chat_id) in seen:
            repeated_cards += 1
            continue
        seen.add((number, call.chat_id))
        by_department[departments[call.chat_id]] += 1
        if number in cards:
            moved += 1
            continue
        cards[number] = call
    latencies = sorted(
        (call.time - tagged_at[(by_id[number].chat_id, by_id[number].message_id)]) * 1000
        for number, call in cards.items()
        if number in by_id and (by_id[number].chat_id, by_id[number].message_id) in tagged_at
    )
    merged = sum(1 for row in rows if row.status == "duplicate")
    tagged_messages = traffic.counts["tagged"] + traffic.counts["repeat"]
    carded_rows = {row.id for row in rows if row.status != "duplicate"}
    check = {
        "tagged_messages": tagged_messages,
        "complaints_stored": len(rows),
        "merged_as_duplicates": merged,
        "planned_repeats": traffic.planned_merges,
        "cards_expected": len(rows) - merged,
        "cards_sent": len(cards),
        "inbox_rows": sum(inbox.values()),
        "inbox_rows_expected": tagged_messages + traffic.counts["edit"] + traffic.counts["resend"],
        "cards_sent_twice": repeated_cards,
        "carded_again_after_an_edit_moved_it": moved,
        "ok": (
            len(rows) == tagged_messages
            and set(cards) == carded_rows
            and repeated_cards == 0
            and sum(inbox.values()) == tagged_messages + traffic.counts["edit"] + traffic.counts["resend"]
        ),
        "explanation": (
            "every tagged message is one complaint (edits, redeliveries and resends add none); a 'me too' "
            "repeat of an open complaint is merged into it (the original's card shows +N residents), so "
            "the cards are the complaints minus the merged ones, each sent once to its department chat "
            "(an edit that changes the department leaves the old card as history and sends a new one); "
            "the inbox holds only tagged updates (the first delivery of each, edits, resends): untagged "
            "chatter and its edits are never stored"
        ),
    }
    last_card = max((call.time for call in cards.values()), default=0.0)
    return {
        "_last_card_time": last_card,
        "sent": len(cards),
        "edited": edits,
        "urgent_complaints": sum(1 for row in rows if row.urgent),
        "cards_by_department": dict(by_department.most_common()),
        "inbox_rows": inbox,
        "latency_ms": {
            "cards": len(latencies),
            "p50": round(statistics.median(latencies), 1) if latencies else None,
            "p95": round(_percentile(latencies, 0.95), 1) if latencies else None,
            "p99": round(_percentile(latencies, 0.99), 1) if latencies else None,
            "max": round(latencies[-1], 1) if latencies else None,
        },
        "check": check,
    }
