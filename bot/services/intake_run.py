"""What intake needs to file a run of messages at once: runs split where a message repeats, and the duplicate
check's candidates loaded once per (department, category) for the whole run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.events import IncomingMessage
from bot.services.duplicates import DuplicateFinder
from storage.models import ComplaintRow
from storage.repositories.complaints import Candidate
from storage.uow import UnitOfWork


def split_at_repeats(messages: Sequence[IncomingMessage]) -> list[list[IncomingMessage]]:
    """The messages in order, cut before any message whose (chat, message id) the current part already has.

    A repeat (an edit, a redelivery under a new update id) must see what its first copy stored, as it would
    processed one by one; in its own part it finds that stored complaint.
    """
    parts: list[list[IncomingMessage]] = []
    seen: set[tuple[int, int]] = set()
    for message in messages:
        key = (message.chat.id, message.message_id)
        if not parts or key in seen:
            parts.append([])
            seen = set()
        parts[-1].append(message)
        seen.add(key)
    return parts


@dataclass(slots=True)
class RunSeen:
    """Chats and residents a run already recorded, so each is written once per run."""

    chats: set[int] = field(default_factory=set)
    residents: dict[int, int] = field(default_factory=dict)  # Telegram user id -> resident id


class RunCandidates:
    """Possible originals for a run's new complaints: the stored ones, read once per (department, category)
    before the run is inserted, and the run's own earlier complaints that were not merged themselves."""

    def __init__(self, finder: DuplicateFinder, since: datetime) -> None:
        self._finder = finder
        self._since = since
        self._stored: dict[tuple[str, str], list[Candidate]] = {}
        self._run: dict[tuple[str, str], list[ComplaintRow]] = {}  # newest last

    async def load(self, uow: UnitOfWork, rows: Iterable[ComplaintRow]) -> None:
        """Read the stored candidates of each (department, category) among `rows` (before they are added)."""
        for key in {(row.department_id, row.category) for row in rows}:
            if key not in self._stored:
                self._stored[key] = await uow.complaints.similar_candidates(*key, self._since, exclude=0)

    def original_for(self, row: ComplaintRow) -> tuple[ComplaintRow | None, int | None]:
        """The best original for a new complaint: an ORM row when it is one of the run's, else its number."""
        key = (row.department_id, row.category)
        own = self._run.get(key, [])
        # newest first, as `similar_candidates` orders them: ties go to the most recent report
        candidates: list[Candidate] = [
            Candidate(r.id, r.text, r.district, r.duplicate_of_id, r.created_at) for r in reversed(own)
        ]
        best = self._finder.best(row, [*candidates, *self._stored.get(key, [])])
        if best is None:
            return None, None
        in_run = next((r for r in own if r.id == best.id), None)
        return in_run, best.id

    def add(self, row: ComplaintRow) -> None:
        """A new complaint of the run that later ones may repeat."""
        self._run.setdefault((row.department_id, row.category), []).append(row)

    async def merge(self, uow: UnitOfWork, row: ComplaintRow) -> int | None:
        """Merge a run's new complaint into an open one about the same problem, as one by one; return the
        original's number, or None (then later complaints of the run may repeat this one)."""
        in_run, number = self.original_for(row)
        # the candidates are columns only: the one original a merge changes is loaded whole
        original = in_run or (await uow.complaints.get(number) if number is not None else None)
        if original is None:
            self.add(row)
            return None
        await uow.complaints.mark_duplicate(row, original, actor="system")
        return original.id
