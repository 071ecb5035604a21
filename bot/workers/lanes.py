"""The inbox processor's lanes: one chat's claimed rows, worked in id order by one task.

A row names its chat, or (a button press, a membership change) names it only inside the update; either
way it joins that chat's lane, so a chat's updates are handled in the order they came.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from bot.core.events import CallbackPress, IncomingMessage, parse_update
from storage.models import InboxRow

__all__ = ["ChatKey", "Lane", "lane_key", "take_run"]

ChatKey = int | None  # the chat a row belongs to; None: rows that name no chat share one lane


class Lane:
    """One chat's claimed rows, worked in id order by one task."""

    __slots__ = ("busy", "key", "rows", "task")

    def __init__(self, key: ChatKey) -> None:
        self.key = key
        self.rows: deque[InboxRow] = deque()
        # rows taken off `rows` and being handled: still pending and claimed by this instance in the
        # database until marked, so the next claim must leave them out as much as the waiting ones
        self.busy: list[int] = []
        self.task: asyncio.Task[None] | None = None

    def in_hand(self) -> list[int]:
        """Ids of the rows waiting in this lane or being handled."""
        return [*self.busy, *(row.id for row in self.rows)]


def lane_key(row: InboxRow) -> ChatKey:
    """The chat whose lane a row joins."""
    if row.chat_id is not None:
        return row.chat_id
    # a button press or membership change names its chat only inside the update: it joins that
    # chat's lane, so a press is handled after the messages before it in the same chat
    try:
        event = parse_update(row.payload) if row.kind != "malformed" else None
    except Exception:
        return None
    if isinstance(event, CallbackPress):
        return event.chat_id if event.chat_id is not None else event.sender.id
    chat = getattr(event, "chat", None)
    chat_id = getattr(chat, "id", None)
    return chat_id if isinstance(chat_id, int) else None


def take_run(
    lane: Lane,
    pick: Callable[[InboxRow], IncomingMessage | None],
    room: int,
    *,
    distinct: bool = False,
) -> list[tuple[InboxRow, IncomingMessage]]:
    """The rows at the head of the lane that `pick` takes as messages, at most `room`, taken off it.

    The first row `pick` refuses ends the run, so the chat's order holds; with `distinct`, so does an
    edit (or a second copy) of a message already in the run, which must find what the first stored.
    """
    run: list[tuple[InboxRow, IncomingMessage]] = []
    seen: set[int] = set()
    while lane.rows and len(run) < room:
        event = pick(lane.rows[0])
        if event is None or (distinct and event.message_id in seen):
            break
        seen.add(event.message_id)
        run.append((lane.rows.popleft(), event))
    return run
