"""Composition root: builds config-driven resources (engine, Redis, queues) and closes them on shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Config
from storage import migrate
from storage.db import create_engine, create_session_factory, is_sqlite
from storage.queues import DepartmentQueue, RedisDepartmentQueue, SqlDepartmentQueue
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class SchemaOutdated(RuntimeError):
    """The database is behind the code's migrations; run `shagym migrate`."""


@dataclass(frozen=True, slots=True)
class Resources:
    """Long-lived objects shared by every use case of one running bot."""

    config: Config
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    queue: DepartmentQueue
    redis: Redis | None

    def unit_of_work(self) -> UnitOfWork:
        """A fresh unit of work on the shared session factory."""
        return UnitOfWork(self.session_factory)


async def prepare_database(engine: AsyncEngine, url: str) -> None:
    """Migrate an embedded SQLite database by itself; require an explicit `shagym migrate` elsewhere."""
    if is_sqlite(url):
        await migrate.upgrade(engine)
        return
    current = await migrate.current_revision(engine)
    head = migrate.head_revision()
    if current != head:
        raise SchemaOutdated(
            f"database schema is at {current or 'nothing'}, the code needs {head}: run `shagym migrate`"
        )


async def sync_directory(resources: Resources) -> None:
    """Mirror officials, departments and watched chats from the config into the database."""
    for attempt in range(3):
        try:
            async with resources.unit_of_work() as uow:
                await uow.directory.lock_for_sync()
                await uow.directory.sync_officials(resources.config.officials)
                await uow.directory.sync_departments(resources.config.departments)
                await uow.chats.sync_watch(resources.config.watch)
                await uow.commit()
            return
        except IntegrityError:
            # another process (an instance, a `shagym` command) inserted the same rows first; on SQLite
            # there is no lock to wait on, so sync again over what it wrote
            if attempt == 2:
                raise


@asynccontextmanager
async def build_resources(config: Config, *, prepare: bool = True) -> AsyncIterator[Resources]:
    """Create the engine, Redis and department queue for `config`; close them all on exit."""
    async with AsyncExitStack() as stack:
        engine = create_engine(config.storage.database_url)
        stack.push_async_callback(engine.dispose)
        session_factory = create_session_factory(engine)
        redis: Redis | None = None
        queue: DepartmentQueue
        if config.storage.redis_url:
            redis = Redis.from_url(config.storage.redis_url)
            stack.push_async_callback(redis.aclose)
            queue = RedisDepartmentQueue(redis, lease_seconds=config.storage.queue_lease_seconds)
        else:
            queue = SqlDepartmentQueue(session_factory, lease_seconds=config.storage.queue_lease_seconds)
        stack.push_async_callback(queue.close)
        resources = Resources(config, engine, session_factory, queue, redis)
        if prepare:
            await prepare_database(engine, config.storage.database_url)
            await sync_directory(resources)
        yield resources
