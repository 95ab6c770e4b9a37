"""Zone imports (designate-api.md §1.5): an import task row, then a background task that parses
and validates the file (in a worker process, :mod:`dnsaas.parsepool`, reporting progress),
creates the zone with all its recordsets in one transaction (one job), and ends the task COMPLETE
or ERROR with Designate's messages."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.context import Context
from dnsaas.errors import DnsaasError, DuplicateZone, InvalidTTL, OverQuota, ZoneImportNotFound
from dnsaas.parsepool import parse_zone_async
from dnsaas.service import changes
from dnsaas.service.base import ctx_project_filter, iso
from dnsaas.service.listing import ListParams, Page, fetch_page, like_or_equal
from dnsaas.service.zones import ZoneService
from dnsaas.storage import tables as t
from dnsaas.zonefile import MESSAGE_MAX, ParsedZone, ZoneFileError

log = logging.getLogger(__name__)

TASK_SORT_KEYS = frozenset({"created_at", "id", "updated_at"})
TASK_FILTERS = frozenset({"status", "message", "zone_id"})
PARSE_SHARE = 80  # progress % at the end of parsing and validation; the insert does the rest


def import_dict(row: Any) -> dict[str, Any]:
    """A zone_imports row as the API shows it (without links)."""
    return {
        "id": row.id,
        "status": row.status,
        "message": row.message,
        "zone_id": row.zone_id,
        "project_id": row.project_id,
        "progress": row.progress,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "version": row.version,
    }


def task_filters(table: sa.Table, filters: dict[str, str]) -> list[sa.ColumnElement[bool]]:
    """``status``/``message``/``zone_id`` filters of the import and export lists."""
    return [like_or_equal(table.c[k], v) for k, v in filters.items()]


class ImportService(ZoneService):
    """Zone import tasks."""

    _background: set[asyncio.Task[None]]

    def _keep(self, task: asyncio.Task[None]) -> None:
        """Hold a reference to a background task until it ends."""
        if not hasattr(self, "_background"):
            self._background = set()
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self) -> None:
        """Wait for the running import/export tasks (tests, graceful shutdown)."""
        tasks = list(getattr(self, "_background", ()))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def create_zone_import(self, ctx: Context, zonefile: str | None, *,
                                 error: str | None = None) -> dict[str, Any]:
        """Store a PENDING import and start processing ``zonefile`` in the background.

        ``error``: the request was already found unusable (e.g. too large); the task ends in
        ERROR with that message and nothing is parsed.
        """
        ctx.require_writer()
        project = ctx.require_project()
        now = changes.utcnow()
        values = dict(id=changes.new_id(), project_id=project, status="PENDING", message=None,
                      zone_id=None, progress=0, version=1, created_at=now, updated_at=None)

        async def run(conn: AsyncConnection) -> None:
            await conn.execute(t.zone_imports.insert().values(**values))
        await self.tx(run)
        task = asyncio.create_task(self._run_import(ctx, values["id"], zonefile, error),
                                   name=f"zone-import-{values['id']}")
        self._keep(task)
        return import_dict(_Obj(values))

    async def _finish_import(self, import_id: str, status: str, message: str,
                             zone_id: str | None = None) -> None:
        async def run(conn: AsyncConnection) -> None:
            await conn.execute(t.zone_imports.update().where(t.zone_imports.c.id == import_id)
                               .values(status=status, message=message[:MESSAGE_MAX],
                                       zone_id=zone_id, progress=100,
                                       updated_at=changes.utcnow(),
                                       version=t.zone_imports.c.version + 1))
        await self.tx(run)

    async def _progress(self, import_id: str, percent: int) -> None:
        async def run(conn: AsyncConnection) -> None:
            await conn.execute(t.zone_imports.update().where(
                t.zone_imports.c.id == import_id, t.zone_imports.c.status == "PENDING")
                .values(progress=percent))
        await self.tx(run)

    async def _run_import(self, ctx: Context, import_id: str, zonefile: str | None,
                          error: str | None) -> None:
        try:
            if error is not None or zonefile is None:
                await self._finish_import(import_id, "ERROR", error or "Malformed zonefile.")
                return
            zone_id, message = await self._import(ctx, import_id, zonefile)
            await self._finish_import(import_id, "COMPLETE" if zone_id else "ERROR", message,
                                      zone_id)
        except Exception as exc:  # noqa: BLE001 - the task must end, whatever happened
            log.exception("zone import %s failed", import_id)
            try:
                await self._finish_import(import_id, "ERROR",
                                          f"An undefined error occurred. {str(exc)[:130]}")
            except Exception:  # noqa: BLE001
                log.exception("could not record the failure of zone import %s", import_id)

    async def _import(self, ctx: Context, import_id: str, zonefile: str) -> tuple[str | None, str]:
        """Parse, check quotas, create; returns (zone id or None, message)."""
        min_ttl = None if ctx.is_admin else self.settings.min_ttl

        async def parse_progress(percent: int) -> None:
            await self._progress(import_id, percent * PARSE_SHARE // 100)
        try:
            parsed: ParsedZone = await parse_zone_async(zonefile, min_ttl=min_ttl,
                                                        on_progress=parse_progress)
        except ZoneFileError as exc:
            return None, exc.message
        await self._progress(import_id, PARSE_SHARE)
        try:
            await self._check_import_quotas(ctx, parsed)
            zone = await self.create_zone(
                ctx, {"name": parsed.name, "email": parsed.email, "ttl": parsed.ttl,
                      "refresh": parsed.refresh, "retry": parsed.retry, "expire": parsed.expire,
                      "minimum": parsed.minimum},
                extra_rrsets=[rs.as_values() for rs in parsed.rrsets], serial=parsed.serial)
        except DuplicateZone:
            return None, "Duplicate zone."
        except OverQuota:
            return None, "Quota exceeded during zone import."
        except InvalidTTL as exc:
            return None, exc.message
        except DnsaasError as exc:
            detail = exc.message
            if exc.errors:
                detail = "; ".join(str(e.get("message")) for e in exc.errors)
            return None, detail
        return zone["id"], f"{parsed.name} imported"

    async def _check_import_quotas(self, ctx: Context, parsed: ParsedZone) -> None:
        project = ctx.require_project()

        async def run(conn: AsyncConnection) -> None:
            limits = await self.quotas_of(conn, project)
            managed = 2  # SOA and apex NS
            await self.check_quota(conn, project, "zone_recordsets", None, len(parsed.rrsets),
                                   current=managed, limits=limits)
            await self.check_quota(conn, project, "zone_records", None, parsed.record_count,
                                   current=0, limits=limits)
            biggest = max((len(rs.records) for rs in parsed.rrsets), default=0)
            await self.check_quota(conn, project, "recordset_records", None, 0, current=biggest,
                                   limits=limits)
        await self.read(run)

    # --- reads / delete ---------------------------------------------------------------------
    async def _import_row(self, conn: AsyncConnection, ctx: Context, import_id: str) -> Any:
        row = (await conn.execute(sa.select(t.zone_imports).where(
            t.zone_imports.c.id == import_id,
            *ctx_project_filter(ctx, t.zone_imports.c.project_id)))).first()
        if row is None:
            raise ZoneImportNotFound()
        return row

    async def get_zone_import(self, ctx: Context, import_id: str) -> dict[str, Any]:
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            return import_dict(await self._import_row(conn, ctx, import_id))
        return await self.read(run)

    async def list_zone_imports(self, ctx: Context, params: ListParams) -> Page:
        where = ctx_project_filter(ctx, t.zone_imports.c.project_id)
        where += task_filters(t.zone_imports, params.filters)

        async def run(conn: AsyncConnection) -> Page:
            rows, total = await fetch_page(conn, sa.select(t.zone_imports), t.zone_imports,
                                           where, params)
            return Page([import_dict(r) for r in rows], total, params.limit)
        return await self.read(run)

    async def delete_zone_import(self, ctx: Context, import_id: str) -> None:
        ctx.require_writer()

        async def run(conn: AsyncConnection) -> None:
            row = await self._import_row(conn, ctx, import_id)
            await conn.execute(t.zone_imports.delete().where(t.zone_imports.c.id == row.id))
        await self.tx(run)


class _Obj:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)
