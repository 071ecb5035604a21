"""Shared fixtures: config, and fresh databases on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.config import Config, load_config
from storage import migrate
from storage.db import create_engine, create_session_factory

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config.example.yaml"


def _missing(variable: str, what: str) -> None:
    message = f"{variable} is not set: {what} tests need a server (see .ci/run)"
    if os.environ.get("SHAGYM_REQUIRE_SERVICES"):
        pytest.fail(message)  # CI must never skip the services tests
    pytest.skip(message)


def postgres_url() -> str:
    """The PostgreSQL URL for tests, or skip the test with the reason."""
    url = os.environ.get("SHAGYM_TEST_DATABASE_URL")
    if not url:
        _missing("SHAGYM_TEST_DATABASE_URL", "PostgreSQL")
    assert url is not None
    return url


def redis_url() -> str:
    """The Redis URL for tests, or skip the test with the reason."""
    url = os.environ.get("SHAGYM_TEST_REDIS_URL")
    if not url:
        _missing("SHAGYM_TEST_REDIS_URL", "Redis")
    assert url is not None
    return url


@pytest.fixture
def example_config() -> Config:
    """The shipped example config, without environment overrides."""
    return load_config(EXAMPLE_CONFIG, environ={})


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A PostgreSQL URL of a fresh, empty database, dropped afterwards."""
    base_url = make_url(postgres_url())
    name = f"shagym_t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base_url.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'shagym.db'}"
        return
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on each backend."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory on the migrated engine."""
    return create_session_factory(engine)
