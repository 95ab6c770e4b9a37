"""Zone exports (designate-api.md §1.6): an export task that renders the zone file in the
background and keeps it in the row; ``export_content`` serves it as ``text/dns``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.context import Context
from dnsaas.errors import BadRequest, OverQuota, ZoneExportNotFound
from dnsaas.service import changes
from dnsaas.service.base import ctx_project_filter, iso
from dnsaas.service.imports import ImportService, task_filters
from dnsaas.service.listing import ListParams, Page, fetch_page
from dnsaas.storage import tables as t
from dnsaas.zonefile import render_zone

log = logging.getLogger(__name__)


def export_location(export_id: str) -> str:
    return f"designate://v2/zones/tasks/exports/{export_id}/export"


def export_dict(row: Any) -> dict[str, Any]:
    """A zone_exports row as the API shows it (without links)."""
    return {
        "id": row.id,
        "status": row.status,
        "message": row.message,
        "location": row.location,
        "zone_id": row.zone_id,
        "project_id": row.project_id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "version": row.version,
    }


async def zone_file(conn: AsyncConnection, zone: Any) -> str:
    """The zone file of a zone as stored now (SOA first, recordsets by name and type)."""
    soa = (await conn.execute(
        sa.select(t.records.c.rdata).join(t.recordsets, t.records.c.recordset_id
                                          == t.recordsets.c.id)
        .where(t.recordsets.c.zone_id == zone.id, t.recordsets.c.type == "SOA"))).scalar_one()
    rows = (await conn.execute(
        sa.select(t.recordsets.c.id, t.recordsets.c.name, t.recordsets.c.type,
                  t.recordsets.c.ttl, t.records.c.rdata)
        .join(t.records, t.records.c.recordset_id == t.recordsets.c.id)
        .where(t.recordsets.c.zone_id == zone.id, t.recordsets.c.type != "SOA")
        .order_by(t.recordsets.c.name, t.recordsets.c.type, t.records.c.created_at,
                  t.records.c.id))).all()
    sets: dict[str, tuple[str, str, int | None, list[bytes]]] = {}
    for r in rows:
        sets.setdefault(r.id, (r.name, r.type, r.ttl, []))[3].append(bytes(r.rdata))
    apex_first = sorted(sets.values(), key=lambda s: (s[0] != zone.name, s[0], s[1]))
    return render_zone(zone.name, zone.ttl, bytes(soa), apex_first)


class ExportService(ImportService):
    """Zone export tasks."""

    async def create_zone_export(self, ctx: Context, zone_id: str) -> dict[str, Any]:
        """PENDING export of an owned zone; 413 when it has more recordsets than
        ``api_export_size``. Shared-zone targets get 403."""
        ctx.require_writer()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id, owner=True)
            limit = await self.quota(conn, zone.project_id, "api_export_size")
            if 0 <= limit < zone.recordset_count:
                raise OverQuota("Quota exceeded for api_export_size.")
            now = changes.utcnow()
            values = dict(id=changes.new_id(), project_id=zone.project_id, zone_id=zone.id,
                          status="PENDING", message=None, location=None, content=None,
                          version=1, created_at=now, updated_at=None)
            await conn.execute(t.zone_exports.insert().values(**values))
            return values
        values = await self.tx(run)
        task = asyncio.create_task(self._run_export(values["id"], zone_id),
                                   name=f"zone-export-{values['id']}")
        self._keep(task)
        return export_dict(_Obj(values))

    async def _run_export(self, export_id: str, zone_id: str) -> None:
        try:
            async def render(conn: AsyncConnection) -> str | None:
                zone = (await conn.execute(sa.select(t.zones).where(
                    t.zones.c.id == zone_id, t.zones.c.deleted_at.is_(None)))).first()
                return None if zone is None else await zone_file(conn, zone)
            content = await self.read(render)
            values: dict[str, Any] = (
                dict(status="COMPLETE", content=content, location=export_location(export_id))
                if content is not None else dict(status="ERROR", message="Zone not found"))
        except Exception as exc:  # noqa: BLE001 - the task must end, whatever happened
            log.exception("zone export %s failed", export_id)
            values = dict(status="ERROR", message=f"An undefined error occurred. {str(exc)[:130]}")

        async def store(conn: AsyncConnection) -> None:
            await conn.execute(t.zone_exports.update().where(t.zone_exports.c.id == export_id)
                               .values(updated_at=changes.utcnow(),
                                       version=t.zone_exports.c.version + 1, **values))
        try:
            await self.tx(store)
        except Exception:  # noqa: BLE001
            log.exception("could not store zone export %s", export_id)

    async def _export_row(self, conn: AsyncConnection, ctx: Context, export_id: str,
                          *columns: Any) -> Any:
        row = (await conn.execute(sa.select(*(columns or (t.zone_exports,))).where(
            t.zone_exports.c.id == export_id,
            *ctx_project_filter(ctx, t.zone_exports.c.project_id)))).first()
        if row is None:
            raise ZoneExportNotFound()
        return row

    async def get_zone_export(self, ctx: Context, export_id: str) -> dict[str, Any]:
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            return export_dict(await self._export_row(conn, ctx, export_id))
        return await self.read(run)

    async def export_content(self, ctx: Context, export_id: str) -> str:
        """The zone file of a COMPLETE export (404 for others' exports and unfinished ones)."""
        async def run(conn: AsyncConnection) -> str:
            row = await self._export_row(conn, ctx, export_id)
            if row.location is None or row.content is None:
                raise ZoneExportNotFound("The export is not complete")
            if not str(row.location).startswith("designate://"):
                raise BadRequest("Unsupported export location")
            return str(row.content)
        return await self.read(run)

    async def list_zone_exports(self, ctx: Context, params: ListParams) -> Page:
        where = ctx_project_filter(ctx, t.zone_exports.c.project_id)
        where += task_filters(t.zone_exports, params.filters)
        cols = [c for c in t.zone_exports.c if c.name != "content"]

        async def run(conn: AsyncConnection) -> Page:
            rows, total = await fetch_page(conn, sa.select(*cols), t.zone_exports, where, params)
            return Page([export_dict(r) for r in rows], total, params.limit)
        return await self.read(run)

    async def delete_zone_export(self, ctx: Context, export_id: str) -> None:
        ctx.require_writer()

        async def run(conn: AsyncConnection) -> None:
            row = await self._export_row(conn, ctx, export_id, t.zone_exports.c.id)
            await conn.execute(t.zone_exports.delete().where(t.zone_exports.c.id == row.id))
        await self.tx(run)


class _Obj:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)
