"""Shared fixtures: real databases on both engines, the service, contexts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.testing.databases import (
    DatabaseFactory,
    database_factory,
    postgres_available,
    records_data_mismatches,
)
from dnsaas.testing.require import need

__all__ = ["need"]


@pytest.fixture(scope="session")
def db_factory() -> Iterator[DatabaseFactory]:
    with database_factory() as factory:
        yield factory


@pytest.fixture(autouse=True)
async def records_data_exact(db_factory: DatabaseFactory) -> AsyncIterator[None]:
    """After every test, each PostgreSQL database it made has exact ``recordsets.records_data``
    (kept by triggers whatever path wrote the records)."""
    before = db_factory.pg_count
    yield
    for url in db_factory.made_since(before):
        assert await records_data_mismatches(url) == [], url


@pytest.fixture(scope="session")
def pg_ok() -> bool:
    return postgres_available()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, db_factory: DatabaseFactory, pg_ok: bool) -> str:
    """A fresh migrated database URL, once per engine."""
    if request.param == "postgresql":
        need(pg_ok, "PostgreSQL")
        return db_factory.postgres()
    return db_factory.sqlite()


@pytest.fixture
def pg_url(db_factory: DatabaseFactory, pg_ok: bool) -> str:
    """A fresh migrated PostgreSQL database URL (PostgreSQL-only tests)."""
    need(pg_ok, "PostgreSQL")
    return db_factory.postgres()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, auth="noauth")


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    engine = db.create_engine(settings.database_url)
    try:
        yield Service(engine, settings)
    finally:
        await engine.dispose()


@pytest.fixture
def admin() -> Context:
    return Context(project_id="admin-project", roles=frozenset({"admin"}))


@pytest.fixture
def alice() -> Context:
    return Context(project_id="project-alice", user_id="alice", roles=frozenset({"member"}))


@pytest.fixture
def bob() -> Context:
    return Context(project_id="project-bob", user_id="bob", roles=frozenset({"member"}))
