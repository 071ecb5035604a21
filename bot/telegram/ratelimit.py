"""Outbound rate limiting within Telegram's flood limits (aiogram ships none).

Sliding windows: per chat (about 1 message/s), per group (20 a minute), and overall (30/s).
`reserve` never sleeps, so a delivery worker can leave a card on its queue instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from bot.config import RateLimitConfig


class _Window:
    """At most `capacity` events in any `span` seconds."""

    __slots__ = ("capacity", "events", "span")

    def __init__(self, capacity: int, span: float) -> None:
        self.capacity = max(1, capacity)
        self.span = span
        self.events: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.events and self.events[0] <= now - self.span:
            self.events.popleft()
        if len(self.events) < self.capacity:
            return 0.0
        return self.events[0] + self.span - now

    def record(self, now: float) -> None:
        self.events.append(now)


class RateLimiter:
    """Decides when the next message to a chat may go."""

    def __init__(self, config: RateLimitConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        per_second = config.global_per_second
        self._global = _Window(int(per_second), 1.0) if per_second >= 1 else _Window(1, 1.0 / per_second)
        self._chats: dict[int, _Window] = {}
        self._groups: dict[int, _Window] = {}
        self._last_prune = clock()

    def _chat_window(self, chat_id: int) -> _Window:
        window = self._chats.get(chat_id)
        if window is None:
            rate = self._config.per_chat_per_second
            window = _Window(int(rate), 1.0) if rate >= 1 else _Window(1, 1.0 / rate)
            self._chats[chat_id] = window
        return window

    def _group_window(self, chat_id: int) -> _Window | None:
        if chat_id > 0:  # private chats have no per-minute group limit
            return None
        window = self._groups.get(chat_id)
        if window is None:
            window = _Window(self._config.per_group_per_minute, 60.0)
            self._groups[chat_id] = window
        return window

    def reserve(self, chat_id: int) -> float:
        """Take a slot for `chat_id` and return 0.0, or return the seconds to wait (taking nothing)."""
        now = self._clock()
        self._prune(now)
        windows = [self._global, self._chat_window(chat_id)]
        group = self._group_window(chat_id)
        if group is not None:
            windows.append(group)
        wait = max(window.wait(now) for window in windows)
        if wait > 0:
            return wait
        for window in windows:
            window.record(now)
        return 0.0

    def available(self, chat_id: int) -> int:
        """How many messages to `chat_id` may go right now (taking nothing)."""
        now = self._clock()
        windows = [self._global, self._chat_window(chat_id)]
        group = self._group_window(chat_id)
        if group is not None:
            windows.append(group)
        free = []
        for window in windows:
            window.wait(now)  # drops the events that left the window
            free.append(window.capacity - len(window.events))
        return max(0, min(free))

    def penalise(self, chat_id: int, seconds: float) -> None:
        """After a 429, keep `chat_id` closed for `seconds` (Telegram's retry_after)."""
        now = self._clock()
        window = self._chat_window(chat_id)
        window.events.clear()
        # a full window whose oldest event expires exactly `seconds` from now
        start = now + seconds - window.span
        window.events.extend([start] * window.capacity)

    async def acquire(self, chat_id: int) -> None:
        """Wait until a message to `chat_id` may go, then take the slot."""
        while (wait := self.reserve(chat_id)) > 0:
            await asyncio.sleep(wait)

    def _prune(self, now: float) -> None:
        # forget idle chats so memory stays bounded however many chats the bot writes to
        if now - self._last_prune < 60.0:
            return
        self._last_prune = now
        for table in (self._chats, self._groups):
            for chat_id in [c for c, w in table.items() if not w.events or w.events[-1] <= now - w.span]:
                del table[chat_id]
