"""Engines, migrations and transaction retries for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dnsaas.errors import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"


DEFAULT_POOL_SIZE = 20


def _asyncpg_connect_args(url: str) -> dict[str, Any]:
    """Driver options: a prepared-statement cache large enough for every statement the service
    issues, and no SSL negotiation (a wasted round trip per connect) unless the URL or the
    environment asks for SSL."""
    args: dict[str, Any] = {"timeout": 5, "command_timeout": 30,
                            "prepared_statement_cache_size": 500}
    query = sa.make_url(url).query
    if not ({"ssl", "sslmode"} & set(query)) and "PGSSLMODE" not in os.environ:
        args["ssl"] = False
    return args


def create_engine(url: str, *, pool_size: int | None = None) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout.

    PostgreSQL: ``pool_size`` connections are kept open (default :data:`DEFAULT_POOL_SIZE`,
    ``DNSAAS_DB_POOL_SIZE`` for the commands), as many again may be opened under bursts.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # Take the write lock up front: no lock upgrades, so no SQLITE_BUSY deadlocks.
            # Reads (AUTOCOMMIT, see ``reader``) take no lock at all.
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        engine.sync_engine.dialect._dnsaas_sqlite = True  # type: ignore[attr-defined]
        # pysqlite's own transaction handling must be off for the explicit BEGIN above.
        @event.listens_for(engine.sync_engine, "connect", insert=True)
        def _autocommit_off(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    size = pool_size or DEFAULT_POOL_SIZE
    return create_async_engine(
        url, pool_size=size, max_overflow=size, pool_pre_ping=False,
        connect_args=_asyncpg_connect_args(url),
    )


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool in AUTOCOMMIT: reads pay no BEGIN/ROLLBACK round trips and,
    on SQLite, take no write lock."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def is_sqlite(engine: AsyncEngine) -> bool:
    """True when ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Run the migrations up to ``revision``; returns (revision before, revision after)."""
    async with engine.begin() as conn:
        before = await conn.run_sync(_current_revision)
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), revision))
        after = await conn.run_sync(_current_revision)
    return before, after


def _current_revision(conn: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The alembic revision the database is at (None when empty)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)


_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def _driver_code(exc: BaseException) -> str | None:
    """The SQLSTATE of an error raised by the raw asyncpg connection (hot paths use it)."""
    code = getattr(exc, "sqlstate", None)
    return code if isinstance(code, str) else None


def _driver_unavailable(exc: BaseException) -> bool:
    """A raw asyncpg error that means the connection or the server is gone."""
    try:
        from asyncpg import exceptions as pg_exc
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(exc, (pg_exc.ConnectionDoesNotExistError, pg_exc.PostgresConnectionError,
                            pg_exc.OperatorInterventionError))


def _is_retryable(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError) and _driver_code(exc) in _RETRYABLE_SQLSTATES:
        return True
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if code is None and orig is not None:
            code = getattr(getattr(orig, "__cause__", None), "sqlstate", None)
        if code in _RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc):
            return True
    return False


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, OSError, asyncio.TimeoutError)) or _driver_unavailable(exc):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, DBAPIError) and isinstance(exc.orig, (ConnectionError, OSError))


async def in_transaction(
    engine: AsyncEngine, fn: Callable[[AsyncConnection], Awaitable[T]], *, attempts: int = 8
) -> T:
    """Run ``fn`` in one transaction, retrying serialization failures and deadlocks.

    Errors that are not the caller's fault never surface as conflicts: after the retries a
    database that cannot be reached becomes :class:`ServiceUnavailable` (HTTP 503).
    """
    async def once() -> T:
        async with engine.begin() as conn:
            return await fn(conn)
    return await with_retries(once, attempts=attempts)


async def with_retries(call: Callable[[], Awaitable[T]], *, attempts: int = 8) -> T:
    """``call()`` with :func:`in_transaction`'s retries and its 503 for an unreachable
    database (for hot paths that run their own statements on the raw driver)."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as exc:
            if _is_retryable(exc) and attempt + 1 < attempts:
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
                continue
            if _is_unavailable(exc) or _is_retryable(exc):
                log.warning("database unavailable: %s", exc)
                raise ServiceUnavailable() from exc
            raise
    raise AssertionError("unreachable")
