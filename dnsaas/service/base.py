"""The service core: one engine, the settings, and one transaction per call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dnsaas.context import Context
from dnsaas.errors import OverQuota
from dnsaas.settings import Settings
from dnsaas.storage import tables as t
from dnsaas.storage.db import in_transaction, reader

T = TypeVar("T")


def iso(value: datetime | None) -> str | None:
    """Designate's timestamp format: ``YYYY-MM-DDTHH:MM:SS.ffffff``, UTC, no zone."""
    if value is None:
        return None
    if value.tzinfo is None:  # what the tables hold; several times faster than strftime
        return value.isoformat(timespec="microseconds")
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


class ServiceBase:
    """Holds the engine and settings; subclasses add the operations."""

    def __init__(self, engine: AsyncEngine, settings: Settings):
        self.engine = engine
        self.read_engine = reader(engine)
        self.settings = settings

    async def tx(self, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``fn`` in one transaction (retried on serialization failures/deadlocks)."""
        return await in_transaction(self.engine, fn)

    async def read(self, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run a read-only ``fn`` on one connection (AUTOCOMMIT, no transaction)."""
        async with self.read_engine.connect() as conn:
            return await fn(conn)

    # --- quotas -----------------------------------------------------------------------------
    async def quotas_of(self, conn: AsyncConnection, project_id: str) -> dict[str, int]:
        """All of a project's limits (−1 = unlimited), defaults filled in; one query."""
        limits = self.settings.quotas.model_dump()
        rows = await conn.execute(sa.select(t.quotas.c.resource, t.quotas.c.hard_limit).where(
            t.quotas.c.project_id == project_id))
        limits.update({r.resource: int(r.hard_limit) for r in rows})
        return limits

    async def quota(self, conn: AsyncConnection, project_id: str, resource: str) -> int:
        """The project's limit for ``resource`` (−1 = unlimited)."""
        return (await self.quotas_of(conn, project_id))[resource]

    async def check_quota(self, conn: AsyncConnection, project_id: str, resource: str,
                          count_query: sa.Select[Any] | None, adding: int = 1,
                          current: int | None = None, limits: dict[str, int] | None = None) -> None:
        """413 when ``current`` (or the bounded count of ``count_query``) + ``adding`` exceeds
        the limit. The count stops at the limit, so it stays cheap on huge zones."""
        limit = (limits or await self.quotas_of(conn, project_id))[resource]
        if limit < 0:
            return
        if current is None:
            assert count_query is not None
            bounded = count_query.limit(limit + 1).subquery()
            current = (await conn.execute(sa.select(sa.func.count()).select_from(bounded))
                       ).scalar_one()
        if current + adding > limit:
            raise OverQuota(f"Quota exceeded for {resource}.")


def ctx_project_filter(ctx: Context, column: sa.ColumnElement[Any]) -> list[sa.ColumnElement[bool]]:
    """Tenancy condition for tables owned by a project."""
    if ctx.all_projects and ctx.is_admin and not ctx.sudo_project_id:
        return []
    return [column == ctx.project]
