"""What storage needs to know of the city's directory, as structural types.

The config's models satisfy them without storage importing the config: storage depends on the domain
only, and a caller may hand in any object with these attributes (a test, another config source).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

__all__ = ["DepartmentSpec", "DigestSpec", "NameSpec", "OfficialSpec", "WatchSpec"]


class NameSpec(Protocol):
    """A name in the three languages."""

    @property
    def ru(self) -> str: ...
    @property
    def kk(self) -> str: ...
    @property
    def en(self) -> str: ...


class DigestSpec(Protocol):
    """Where and when an official's digest goes."""

    @property
    def chat_id(self) -> int: ...
    @property
    def schedule(self) -> str: ...
    @property
    def language(self) -> str: ...


class OfficialSpec(Protocol):
    """An official residents tag."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> NameSpec: ...
    @property
    def usernames(self) -> Sequence[str]: ...
    @property
    def user_ids(self) -> Sequence[int]: ...
    @property
    def aliases(self) -> Sequence[str]: ...
    @property
    def digest(self) -> DigestSpec | None: ...


class DepartmentSpec(Protocol):
    """A department and its desk chat."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> NameSpec: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def staff(self) -> Sequence[int]: ...
    @property
    def head(self) -> int | None: ...
    @property
    def sla_hours(self) -> int: ...


class WatchSpec(Protocol):
    """Which chats are monitored and acknowledged."""

    @property
    def chats(self) -> Literal["all"] | Sequence[int]: ...
    @property
    def acknowledge_chats(self) -> Sequence[int]: ...
    def watches(self, chat_id: int) -> bool: ...
