"""The complaint a resident is composing, as stored in the `conversations` table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.services.residents.reply import Reply
from storage.models import ConversationRow

DRAFT_STATE = "draft"  # the conversation state of a resident composing a complaint


@dataclass(slots=True)
class DraftState:
    """The complaint a resident is composing."""

    draft_id: int
    text: str = ""
    photos: list[str] = field(default_factory=list)
    location: tuple[float, float] | None = None
    category: str | None = None  # the resident's choice, overriding the classifier
    summary_message_id: int | None = None
    summary_at: str | None = None  # when the summary was last sent or edited (ISO 8601)
    last_message_id: int | None = None  # the newest message taken in: a message handled twice adds nothing

    def to_json(self) -> dict[str, Any]:
        """Storable form."""
        return {
            "draft_id": self.draft_id,
            "text": self.text,
            "photos": self.photos,
            "location": list(self.location) if self.location else None,
            "category": self.category,
            "summary_message_id": self.summary_message_id,
            "summary_at": self.summary_at,
            "last_message_id": self.last_message_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DraftState:
        """Back from storage."""
        location = data.get("location")
        return cls(
            draft_id=int(data["draft_id"]),
            text=str(data.get("text") or ""),
            photos=list(data.get("photos") or []),
            location=(float(location[0]), float(location[1])) if location else None,
            category=data.get("category"),
            summary_message_id=data.get("summary_message_id"),
            summary_at=data.get("summary_at"),
            last_message_id=data.get("last_message_id"),
        )


def stored_draft(row: ConversationRow | None) -> DraftState | None:
    """The draft a conversation holds, if it holds one."""
    return DraftState.from_json(row.data) if row is not None and row.state == DRAFT_STATE else None


@dataclass(frozen=True, slots=True)
class ShowDraft:
    """A draft summary to show; rendered once per burst of messages, from the draft as it ends up."""

    draft: DraftState
    lang: str


Step = Reply | ShowDraft  # what handling one message yields, before summaries are rendered
