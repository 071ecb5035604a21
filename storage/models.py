"""SQLAlchemy 2 models: chats, officials, departments, inbox, residents, complaints and their events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.core.domain import ComplaintStatus, InboxStatus
from storage.base import Base, BigIntPK, UTCDateTime, utcnow
from storage.queues.sql import QueueEntryRow

__all__ = [
    "Base",
    "ChatRow",
    "ComplaintEventRow",
    "ComplaintRow",
    "ConversationRow",
    "DepartmentRow",
    "DeskPromptRow",
    "InboxRow",
    "JobRunRow",
    "OfficialRow",
    "QueueEntryRow",
    "ResidentRow",
    "SettingRow",
]


class ChatRow(Base):
    """A Telegram chat the bot has seen or is configured for."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(256))
    username: Mapped[str | None] = mapped_column(String(64))
    watched: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledge: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OfficialRow(Base):
    """An official residents tag; mirrors the config."""

    __tablename__ = "officials"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_ru: Mapped[str] = mapped_column(String(256))
    name_kk: Mapped[str] = mapped_column(String(256))
    name_en: Mapped[str] = mapped_column(String(256))
    usernames: Mapped[list[str]] = mapped_column(JSON, default=list)
    user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    digest_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    digest_schedule: Mapped[str | None] = mapped_column(String(64))
    digest_language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DepartmentRow(Base):
    """A department with its desk chat; mirrors the config."""

    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_ru: Mapped[str] = mapped_column(String(256))
    name_kk: Mapped[str] = mapped_column(String(256))
    name_en: Mapped[str] = mapped_column(String(256))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    staff: Mapped[list[int]] = mapped_column(JSON, default=list)
    head: Mapped[int | None] = mapped_column(BigInteger)
    sla_hours: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InboxRow(Base):
    """A raw Telegram update the bot acts on, stored before it is processed."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("update_id", name="uq_inbox_update_id"),
        Index("ix_inbox_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    update_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a processing instance claims a row for a while, so several instances never handle it twice
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ResidentRow(Base):
    """A resident who wrote to the bot or tagged an official; holds the personal data we keep."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    full_name: Mapped[str | None] = mapped_column(String(256))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationRow(Base):
    """A resident's private-chat state (the draft being filed), so it survives a restart."""

    __tablename__ = "conversations"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DeskPromptRow(Base):
    """A staff member's pending resolution: the bot asked them for a comment on one complaint.

    Kept apart from the private-chat draft (`conversations`), so a staff member who is also a resident
    loses neither; only a reply to the prompt message itself completes the resolution.
    """

    __tablename__ = "desk_prompts"
    __table_args__ = (
        UniqueConstraint("user_id", "complaint_id", name="uq_desk_prompts_user_id_complaint_id"),
        Index("ix_desk_prompts_chat_id_prompt_message_id", "chat_id", "prompt_message_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger)  # set once the prompt is sent
    # the press that asked: the same press handled again (a redelivered update) asks nothing new
    callback_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SettingRow(Base):
    """A value the bot generated for itself and every instance must share (e.g. the webhook secret)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComplaintRow(Base):
    """A complaint: what was reported, where it is routed and where it stands."""

    __tablename__ = "complaints"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_id", name="uq_complaints_source_message"),
        Index("ix_complaints_department_status", "department_id", "status"),
        Index("ix_complaints_created_at", "created_at"),
        Index("ix_complaints_resident_id", "resident_id"),  # a resident's complaints: /my, erasure
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    chat_username: Mapped[str | None] = mapped_column(String(64))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16), default="complaint")
    category: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[str] = mapped_column(String(64))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    district: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    needs_triage: Mapped[bool] = mapped_column(Boolean, default=False)
    # the classifier's runner-up when it was torn (a mixed text); cleared when staff reroute
    alternative_category: Mapped[str | None] = mapped_column(String(64))
    alternative_confidence: Mapped[float | None] = mapped_column(Float)
    officials: Mapped[list[str]] = mapped_column(JSON, default=list)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.NEW.value)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id", ondelete="SET NULL"))
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The card in the department chat; card_state "sending" means a send may have happened
    # without its answer being recorded (a crash), so what is sent again is marked as a possible repeat.
    card_state: Mapped[str | None] = mapped_column(String(16))
    card_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # while "sending" for a combined message: the batch it went out in, so a crash's leftovers are sent
    # again as one message; card_repeat: the card (or message) was sent again after such a crash
    card_batch: Mapped[str | None] = mapped_column(String(32))
    card_repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # 1: head told, 2: official told
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    author_name: Mapped[str | None] = mapped_column(String(256))
    # when the author's personal data was erased (retention period over, or at their request)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    resident: Mapped[ResidentRow | None] = relationship(lazy="raise")
    events: Mapped[list[ComplaintEventRow]] = relationship(
        back_populates="complaint", lazy="raise", order_by="ComplaintEventRow.id"
    )


class JobRunRow(Base):
    """One run of a scheduled job: the unique (job, slot) row makes a slot run once across instances."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[str] = mapped_column(String(32), primary_key=True)  # the scheduled time, ISO UTC
    owner: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NoticeRow(Base):
    """A notice owed to a resident, stored with the staff action that caused it and sent after it.

    An outbox: a crash between the action and the notice leaves the row, and a sender delivers it.
    It holds no personal data: the resident is found through the complaint when it is sent.
    """

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))  # taken | rerouted | resolved | rejected | merged
    comment: Mapped[str | None] = mapped_column(Text)
    original: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # also: not before, after a failure


class LeaseRow(Base):
    """A named lease held by one instance until it expires (e.g. the polling leader)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ComplaintEventRow(Base):
    """Audit log of a complaint: who did what, when."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    complaint: Mapped[ComplaintRow] = relationship(back_populates="events", lazy="raise")
