"""First-start setup: migrate an empty embedded database and make sure the default pool exists."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.storage import tables as t

log = logging.getLogger(__name__)


async def ensure_default_pool(engine: AsyncEngine, settings: Settings) -> bool:
    """Create the default pool (one NS record, no targets) when missing; True if created."""
    from dnsaas.service.changes import new_id, utcnow

    async with engine.begin() as conn:
        found = (await conn.execute(sa.select(t.pools.c.id).where(
            t.pools.c.id == settings.default_pool_id))).first()
        if found is not None:
            return False
        now = utcnow()
        await conn.execute(t.pools.insert().values(
            id=settings.default_pool_id, name="default", description="Default pool",
            attributes={}, catalog_serial=1, version=1, created_at=now))
        await conn.execute(t.pool_ns_records.insert().values(
            id=new_id(), pool_id=settings.default_pool_id,
            hostname=settings.default_ns_hostname, priority=1, created_at=now))
        return True


async def prepare(engine: AsyncEngine, settings: Settings, *, auto_migrate: bool | None = None
                  ) -> list[str]:
    """Bring the database to a usable state; returns what was done, for the CLI to print.

    An embedded (SQLite) database is always migrated; PostgreSQL only when ``auto_migrate``.
    """
    done: list[str] = []
    if auto_migrate is None:
        auto_migrate = db.is_sqlite(engine)
    if auto_migrate:
        before, after = await db.upgrade(engine)
        if before != after:
            done.append(f"database upgraded from {before or 'empty'} to {after}")
        else:
            done.append(f"database is current at revision {after}")
    if await ensure_default_pool(engine, settings):
        done.append(f"created default pool {settings.default_pool_id}")
    return done
