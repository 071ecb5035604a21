"""Who may use a department's desk: its staff and head from the config, or an administrator of its chat."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from bot.config import DepartmentConfig

log = logging.getLogger(__name__)

_ADMIN_CACHE_SECONDS = 300.0


class StaffAccess:
    """Checks a desk user against the config and the chat's administrators (read at most every 5 min)."""

    def __init__(
        self,
        chat_admins: Callable[[int], Awaitable[list[int]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._chat_admins = chat_admins
        self._clock = clock
        self._admin_cache: dict[int, tuple[float, frozenset[int]]] = {}

    async def authorised(self, user_id: int, department: DepartmentConfig) -> bool:
        """Staff and the head from the config, or an administrator of the department's chat."""
        if user_id in department.staff or user_id == department.head:
            return True
        cached = self._admin_cache.get(department.chat_id)
        now = self._clock()
        if cached is None or now - cached[0] > _ADMIN_CACHE_SECONDS:
            try:
                admins = frozenset(await self._chat_admins(department.chat_id))
            except Exception as exc:  # an unreachable chat grants nothing
                log.info("could not read administrators of %s: %s", department.chat_id, exc)
                admins = frozenset()
            cached = (now, admins)
            self._admin_cache[department.chat_id] = cached
        return user_id in cached[1]
