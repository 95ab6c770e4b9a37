"""Shared zones (designate-api.md §1.8): the owner shares a zone with another project, which
then sees it (``shared: true``) and may do recordset CRUD, but not update, delete, export,
transfer or abandon it (those check ``owner=True`` in :meth:`ZoneService.zone_row`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.context import Context
from dnsaas.errors import (
    BadRequest,
    DuplicateSharedZone,
    InvalidObject,
    SharedZoneHasRecordsets,
    SharedZoneHasSubZone,
    SharedZoneNotFound,
)
from dnsaas.service import changes
from dnsaas.service.base import iso
from dnsaas.service.listing import ListParams, Page, fetch_page, like_or_equal
from dnsaas.service.zones import ZoneService
from dnsaas.storage import tables as t

SHARE_SORT_KEYS = frozenset({"created_at", "updated_at"})
SHARE_FILTERS = frozenset({"target_project_id"})


def share_dict(row: Any) -> dict[str, Any]:
    """A shared_zones row as the API shows it (without links)."""
    return {
        "id": row.id,
        "zone_id": row.zone_id,
        "project_id": row.project_id,
        "target_project_id": row.target_project_id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


class ShareService(ZoneService):
    """Zone shares."""

    def _share_scope(self, ctx: Context, zone: Any) -> list[sa.ColumnElement[bool]]:
        """The owner (and admins acting on all projects) see every share of the zone; a
        target project only its own."""
        where = [t.shared_zones.c.zone_id == zone.id]
        if (ctx.all_projects and ctx.is_admin) or zone.project_id == ctx.project:
            return where
        return where + [t.shared_zones.c.target_project_id == ctx.project]

    async def create_share(self, ctx: Context, zone_id: str,
                           values: dict[str, Any]) -> dict[str, Any]:
        """Share an owned zone with ``target_project_id``; 201."""
        ctx.require_writer()
        target = values.get("target_project_id")
        if not isinstance(target, str) or not target.strip() or len(target) > 255:
            raise InvalidObject.single(["target_project_id"],
                                       "'target_project_id' is a required property", "required")

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True, owner=True)
            if zone.action == "DELETE":
                raise BadRequest("Can not share a deleting zone")
            if target == zone.project_id:
                raise BadRequest("Cannot share the zone with the zone owner.")
            dup = (await conn.execute(sa.select(t.shared_zones.c.id).where(
                t.shared_zones.c.zone_id == zone.id,
                t.shared_zones.c.target_project_id == target))).first()
            if dup is not None:
                raise DuplicateSharedZone()
            row = dict(id=changes.new_id(), zone_id=zone.id, project_id=zone.project_id,
                       target_project_id=target, created_at=changes.utcnow(), updated_at=None)
            await conn.execute(t.shared_zones.insert().values(**row))
            return share_dict(_Obj(row))
        return await self.tx(run)

    async def list_shares(self, ctx: Context, zone_id: str, params: ListParams) -> Page:
        where = [like_or_equal(t.shared_zones.c[k], v) for k, v in params.filters.items()]

        async def run(conn: AsyncConnection) -> Page:
            zone = await self.zone_row(conn, ctx, zone_id)
            rows, total = await fetch_page(conn, sa.select(t.shared_zones), t.shared_zones,
                                           self._share_scope(ctx, zone) + where, params)
            return Page([share_dict(r) for r in rows], total, params.limit)
        return await self.read(run)

    async def _share_row(self, conn: AsyncConnection, ctx: Context, zone: Any,
                         share_id: str) -> Any:
        row = (await conn.execute(sa.select(t.shared_zones).where(
            t.shared_zones.c.id == share_id, *self._share_scope(ctx, zone)))).first()
        if row is None:
            raise SharedZoneNotFound()
        return row

    async def get_share(self, ctx: Context, zone_id: str, share_id: str) -> dict[str, Any]:
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id)
            return share_dict(await self._share_row(conn, ctx, zone, share_id))
        return await self.read(run)

    async def delete_share(self, ctx: Context, zone_id: str, share_id: str) -> None:
        """Unshare: 400 while the target still owns recordsets in the zone or zones below it."""
        ctx.require_writer()

        async def run(conn: AsyncConnection) -> None:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True, owner=True)
            share = await self._share_row(conn, ctx, zone, share_id)
            target = share.target_project_id
            owned = (await conn.execute(sa.select(t.recordsets.c.id).where(
                t.recordsets.c.zone_id == zone.id,
                t.recordsets.c.project_id == target).limit(1))).first()
            if owned is not None:
                raise SharedZoneHasRecordsets()
            sub = (await conn.execute(sa.select(t.zones.c.id).where(
                t.zones.c.reverse_name > zone.reverse_name,
                t.zones.c.reverse_name < zone.reverse_name[:-1] + "/",
                t.zones.c.project_id == target, t.zones.c.deleted_at.is_(None)).limit(1))).first()
            if sub is not None:
                raise SharedZoneHasSubZone()
            await conn.execute(t.shared_zones.delete().where(t.shared_zones.c.id == share.id))
        await self.tx(run)


class _Obj:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)
