"""Zone imports (designate-api.md §1.5): an import task row, then a background task that parses
and validates the file (in a worker process, :mod:`dnsaas.parsepool`, reporting progress),
creates the zone with all its recordsets in one transaction (one job) that also ends the task
COMPLETE, or ends it in ERROR with Designate's messages.

The file itself is not stored, so an import whose API process died cannot be resumed: the
worker's recovery sweep ends such a task in ERROR (:meth:`ImportService.fail_stale_imports`)
once it has shown no progress for ``settings.import_stale_after`` seconds (every progress
report refreshes ``updated_at``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.context import Context
from dnsaas.errors import DnsaasError, DuplicateZone, InvalidTTL, OverQuota, ZoneImportNotFound
from dnsaas.parsepool import parse_zone_async
from dnsaas.rowprep import PreparedRows
from dnsaas.service import bulk, changes
from dnsaas.service.base import ctx_project_filter, iso
from dnsaas.service.listing import ListParams, Page, fetch_page, like_or_equal
from dnsaas.service.zones import ZoneService
from dnsaas.storage import tables as t
from dnsaas.zonefile import MESSAGE_MAX, ParsedZone, ZoneFileError

log = logging.getLogger(__name__)

TASK_SORT_KEYS = frozenset({"created_at", "id", "updated_at"})
TASK_FILTERS = frozenset({"status", "message", "zone_id"})
PARSE_SHARE = 80  # progress % at the end of parsing and validation; the insert does the rest
STALE_MESSAGE = ("The zone import was interrupted (the API process running it stopped) and "
                 "created nothing; import the zone file again.")


class ImportEnded(Exception):
    """The task is no longer PENDING (the recovery sweep ended it): create nothing."""


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

    @staticmethod
    async def _end(conn: AsyncConnection, import_id: str, status: str, message: str,
                   zone_id: str | None = None) -> bool:
        """End a PENDING task; False when it was not PENDING any more."""
        done = await conn.execute(t.zone_imports.update().where(
            t.zone_imports.c.id == import_id, t.zone_imports.c.status == "PENDING")
            .values(status=status, message=message[:MESSAGE_MAX], zone_id=zone_id, progress=100,
                    updated_at=changes.utcnow(), version=t.zone_imports.c.version + 1))
        return bool(done.rowcount)

    async def _finish_import(self, import_id: str, status: str, message: str) -> None:
        async def run(conn: AsyncConnection) -> None:
            await self._end(conn, import_id, status, message)
        await self.tx(run)

    async def _progress(self, import_id: str, percent: int) -> None:
        """Report progress; also the task's heartbeat (``updated_at``) for the recovery sweep."""
        async def run(conn: AsyncConnection) -> None:
            await conn.execute(t.zone_imports.update().where(
                t.zone_imports.c.id == import_id, t.zone_imports.c.status == "PENDING")
                .values(progress=percent, updated_at=changes.utcnow()))
        await self.tx(run)

    async def fail_stale_imports(self, older_than: float | None = None) -> int:
        """End in ERROR the PENDING imports without progress for ``older_than`` seconds
        (default ``settings.import_stale_after``): their API process died. Returns how many."""
        limit = self.settings.import_stale_after if older_than is None else older_than
        now = changes.utcnow()
        c = t.zone_imports.c

        async def run(conn: AsyncConnection) -> int:
            done = await conn.execute(t.zone_imports.update().where(
                c.status == "PENDING",
                sa.func.coalesce(c.updated_at, c.created_at) <= now - timedelta(seconds=limit))
                .values(status="ERROR", message=STALE_MESSAGE, progress=100, updated_at=now,
                        version=c.version + 1))
            return int(done.rowcount or 0)
        count = await self.tx(run)
        if count:
            log.warning("ended %d interrupted zone import(s) in ERROR", count)
        return count

    async def _run_import(self, ctx: Context, import_id: str, zonefile: str | None,
                          error: str | None) -> None:
        try:
            if error is not None or zonefile is None:
                await self._finish_import(import_id, "ERROR", error or "Malformed zonefile.")
                return
            message = await self._import(ctx, import_id, zonefile)
            if message is not None:
                await self._finish_import(import_id, "ERROR", message)
        except ImportEnded:
            log.warning("zone import %s was ended by the recovery sweep meanwhile", import_id)
        except Exception as exc:  # noqa: BLE001 - the task must end, whatever happened
            log.exception("zone import %s failed", import_id)
            try:
                await self._finish_import(import_id, "ERROR",
                                          f"An undefined error occurred. {str(exc)[:130]}")
            except Exception:  # noqa: BLE001
                log.exception("could not record the failure of zone import %s", import_id)

    async def _import(self, ctx: Context, import_id: str, zonefile: str) -> str | None:
        """Parse, check quotas, create and end the task COMPLETE (one transaction); returns
        None, or the error message of the task."""
        min_ttl = None if ctx.is_admin else self.settings.min_ttl

        async def parse_progress(percent: int) -> None:
            await self._progress(import_id, percent * PARSE_SHARE // 100)
        try:
            parsed: ParsedZone = await parse_zone_async(zonefile, min_ttl=min_ttl,
                                                        on_progress=parse_progress, prepare=True)
        except ZoneFileError as exc:
            return exc.message
        await self._progress(import_id, PARSE_SHARE)
        rows: PreparedRows = parsed.prepared  # parsed, sorted and made rows off the event loop
        message = f"{parsed.name} imported"

        async def chunk_done(written: int, total: int) -> None:
            await self._progress(import_id, PARSE_SHARE + (99 - PARSE_SHARE) * written // total)

        async def complete(conn: AsyncConnection, zone_id: str) -> None:
            if not await self._end(conn, import_id, "COMPLETE", message, zone_id):
                raise ImportEnded()  # rolls the zone back: the task says it failed
        try:
            await self._check_import_quotas(ctx, rows.rrsets, rows.records, rows.biggest)
            token = bulk.ON_CHUNK.set(chunk_done)
            try:
                await self.create_zone(
                    ctx, {"name": parsed.name, "email": parsed.email, "ttl": parsed.ttl,
                          "refresh": parsed.refresh, "retry": parsed.retry,
                          "expire": parsed.expire, "minimum": parsed.minimum},
                    prepared=rows, serial=parsed.serial, in_tx=complete)
            finally:
                bulk.ON_CHUNK.reset(token)
        except DuplicateZone:
            return "Duplicate zone."
        except OverQuota:
            return "Quota exceeded during zone import."
        except InvalidTTL as exc:
            return exc.message
        except DnsaasError as exc:
            detail = exc.message
            if exc.errors:
                detail = "; ".join(str(e.get("message")) for e in exc.errors)
            return detail
        return None

    async def _check_import_quotas(self, ctx: Context, rrsets: int, records: int,
                                   biggest: int) -> None:
        project = ctx.require_project()

        async def run(conn: AsyncConnection) -> None:
            limits = await self.quotas_of(conn, project)
            managed = 2  # SOA and apex NS
            await self.check_quota(conn, project, "zone_recordsets", None, rrsets,
                                   current=managed, limits=limits)
            await self.check_quota(conn, project, "zone_records", None, records,
                                   current=0, limits=limits)
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
