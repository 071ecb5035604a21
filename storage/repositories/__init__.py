"""Repositories: each builds and runs the queries for one aggregate; none of them commits."""

from __future__ import annotations

from storage.repositories.chats import ChatRepository, DirectoryRepository
from storage.repositories.complaints import ComplaintRepository
from storage.repositories.corrections import CorrectionRepository
from storage.repositories.desk import DeskPromptRepository
from storage.repositories.digests import DigestRepository
from storage.repositories.inbox import InboxItem, InboxRepository, LeaseRepository
from storage.repositories.jobs import JobRunRepository, SettingRepository
from storage.repositories.notices import NoticeRepository
from storage.repositories.residents import ConversationRepository, ResidentRepository

__all__ = [
    "ChatRepository",
    "ComplaintRepository",
    "ConversationRepository",
    "CorrectionRepository",
    "DeskPromptRepository",
    "DigestRepository",
    "DirectoryRepository",
    "InboxItem",
    "InboxRepository",
    "JobRunRepository",
    "LeaseRepository",
    "NoticeRepository",
    "ResidentRepository",
    "SettingRepository",
]
