"""Throw-away databases for tests: a migrated template per engine, copied for each test."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from dnsaas.settings import Settings
from dnsaas.storage import bootstrap, db

DEFAULT_PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def pg_admin_url() -> str:
    """The PostgreSQL URL tests use to create databases (``DNSAAS_TEST_POSTGRES_URL``)."""
    return os.environ.get("DNSAAS_TEST_POSTGRES_URL", DEFAULT_PG_ADMIN_URL)


def _with_db(url: str, name: str) -> str:
    return str(sa.make_url(url).set(database=name).render_as_string(hide_password=False))


async def _pg_exec(sql: str) -> None:
    engine = create_async_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+asyncpg://`` URL as a plain DSN for ``asyncpg.connect``."""
    return str(sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))


async def recreate_database(name: str) -> str:
    """Drop (if present) and create database ``name`` on the test server; returns its URL."""
    await drop_database(name)
    await _pg_exec(f'CREATE DATABASE "{name}"')
    return _with_db(pg_admin_url(), name)


async def drop_database(name: str) -> None:
    """Drop database ``name`` on the test server, ending its sessions."""
    await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> bool:
    """True when the test PostgreSQL server answers."""
    try:
        asyncio.run(asyncio.wait_for(_pg_exec("SELECT 1"), 5))
        return True
    except Exception:
        return False


async def _migrate(url: str) -> None:
    engine = db.create_engine(url)
    try:
        await bootstrap.prepare(engine, Settings(database_url=url), auto_migrate=True)
    finally:
        await engine.dispose()


class DatabaseFactory:
    """Makes fresh, migrated databases from a template (one per engine kind)."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="dnsaas-db-"))
        self._sqlite_template: Path | None = None
        self._pg_template: str | None = None
        self._pg_dbs: list[str] = []

    def sqlite(self) -> str:
        """URL of a fresh SQLite database file."""
        if self._sqlite_template is None:
            tmpl = self._dir / "template.db"
            asyncio.run(_migrate(f"sqlite+aiosqlite:///{tmpl}"))
            self._sqlite_template = tmpl
        path = self._dir / f"{uuid.uuid4().hex}.db"
        shutil.copy(self._sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"

    def postgres(self) -> str:
        """URL of a fresh PostgreSQL database (CREATE DATABASE … TEMPLATE)."""
        if self._pg_template is None:
            name = f"dnsaas_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
            self._pg_dbs.append(name)
            asyncio.run(_migrate(_with_db(pg_admin_url(), name)))
            self._pg_template = name
        name = f"dnsaas_t_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{self._pg_template}"'))
        self._pg_dbs.append(name)
        return _with_db(pg_admin_url(), name)

    def made_since(self, count: int) -> list[str]:
        """URLs of the PostgreSQL databases made after the first ``count`` (see ``pg_count``)."""
        return [_with_db(pg_admin_url(), n) for n in self._pg_dbs[count:]
                if n != self._pg_template]

    @property
    def pg_count(self) -> int:
        return len(self._pg_dbs)

    def close(self) -> None:
        """Drop every database made and remove the temp dir."""
        for name in reversed(self._pg_dbs):
            try:
                asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception:
                pass
        shutil.rmtree(self._dir, ignore_errors=True)


# Recordsets whose trigger-kept ``records_data`` (dnsaas/storage/records_data.py) is wrong: an
# array that differs from the records, or NULL on a recordset other than an SOA.
RECORDS_DATA_MISMATCHES = """
SELECT rs.id, rs.name, rs.type, rs.records_data, ARRAY(SELECT r.data FROM records r
       WHERE r.recordset_id = rs.id ORDER BY r.created_at, r.id) AS actual
  FROM recordsets rs
 WHERE CASE WHEN rs.records_data IS NULL THEN rs.type <> 'SOA'
            ELSE rs.records_data IS DISTINCT FROM ARRAY(SELECT r.data FROM records r
                 WHERE r.recordset_id = rs.id ORDER BY r.created_at, r.id) END"""


async def records_data_mismatches(url: str) -> list[str]:
    """The recordsets of PostgreSQL database ``url`` whose ``records_data`` is wrong."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(RECORDS_DATA_MISMATCHES)
    finally:
        await conn.close()
    return [f"{r['name']} {r['type']}: kept {r['records_data']}, records {r['actual']}"
            for r in rows]


@contextmanager
def database_factory() -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory()
    try:
        yield factory
    finally:
        factory.close()
