"""Unit of work: one session, the repositories on it, one commit per use case."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    ChatRepository,
    ComplaintRepository,
    ConversationRepository,
    CorrectionRepository,
    DeskPromptRepository,
    DigestRepository,
    DirectoryRepository,
    InboxRepository,
    JobRunRepository,
    LeaseRepository,
    NoticeRepository,
    ResidentRepository,
    SettingRepository,
)
from storage.retention import RetentionRepository


class UnitOfWork:
    """`async with UnitOfWork(factory) as uow: ...; await uow.commit()`; anything uncommitted rolls back."""

    session: AsyncSession
    chats: ChatRepository
    directory: DirectoryRepository
    inbox: InboxRepository
    residents: ResidentRepository
    complaints: ComplaintRepository
    conversations: ConversationRepository
    jobs: JobRunRepository
    retention: RetentionRepository
    leases: LeaseRepository
    notices: NoticeRepository
    desk_prompts: DeskPromptRepository
    settings: SettingRepository
    digests: DigestRepository
    corrections: CorrectionRepository

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.chats = ChatRepository(self.session)
        self.directory = DirectoryRepository(self.session)
        self.inbox = InboxRepository(self.session)
        self.residents = ResidentRepository(self.session)
        self.complaints = ComplaintRepository(self.session)
        self.conversations = ConversationRepository(self.session)
        self.jobs = JobRunRepository(self.session)
        self.retention = RetentionRepository(self.session)
        self.leases = LeaseRepository(self.session)
        self.notices = NoticeRepository(self.session)
        self.desk_prompts = DeskPromptRepository(self.session)
        self.settings = SettingRepository(self.session)
        self.digests = DigestRepository(self.session)
        self.corrections = CorrectionRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed; unlike rollback() it leaves loaded rows readable
        await self.session.close()

    async def commit(self) -> None:
        """Make the use case's changes durable, all at once."""
        await self.session.commit()
