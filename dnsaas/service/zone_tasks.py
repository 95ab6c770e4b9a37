"""Zone tasks (designate-api.md §1.4): ``xfr`` (pull a SECONDARY zone now), ``abandon`` (admin;
forget the zone in the database only) and ``pool_move`` (admin; move the zone to another pool)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas import wire
from dnsaas.context import Context
from dnsaas.errors import BadRequest, InvalidObject
from dnsaas.service import changes
from dnsaas.service.zones import ZoneService
from dnsaas.storage import tables as t


class _With:
    """A zone row with some attributes replaced."""

    def __init__(self, row: Any, **values: Any):
        self._row, self._values = row, values

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return getattr(self._row, name)


class ZoneTaskService(ZoneService):
    """xfr, abandon, pool_move."""

    async def xfr_zone(self, ctx: Context, zone_id: str) -> None:
        """Ask the worker to check the masters of a SECONDARY zone and transfer if newer."""
        ctx.require_writer()

        async def run(conn: AsyncConnection) -> None:
            zone = await self.zone_row(conn, ctx, zone_id, owner=True)
            if zone.type != "SECONDARY":
                raise BadRequest("Can't XFR a non Secondary zone")
            if zone.action == "DELETE":
                raise BadRequest("Can not transfer a deleting zone")
            await changes.upsert_job(conn, zone.id, "transfer", int(zone.serial),
                                     payload={"reason": "xfr"})
        await self.tx(run)

    async def abandon_zone(self, ctx: Context, zone_id: str) -> None:
        """Remove the zone from the database only; the nameservers keep it (admin)."""
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> None:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True, owner=True)
            zid = zone.id
            await conn.execute(t.records.delete().where(t.records.c.zone_id == zid))
            await conn.execute(t.recordsets.delete().where(t.recordsets.c.zone_id == zid))
            await conn.execute(t.zone_changes.delete().where(t.zone_changes.c.zone_id == zid))
            await conn.execute(t.shared_zones.delete().where(t.shared_zones.c.zone_id == zid))
            await conn.execute(t.zone_transfer_requests.delete().where(
                t.zone_transfer_requests.c.zone_id == zid))
            await conn.execute(t.jobs.delete().where(t.jobs.c.zone_id == zid))
            await conn.execute(t.zones.update().where(t.zones.c.parent_zone_id == zid)
                               .values(parent_zone_id=None))
            await conn.execute(t.zones.delete().where(t.zones.c.id == zid))
        await self.tx(run)

    async def pool_move(self, ctx: Context, zone_id: str, values: dict[str, Any]) -> None:
        """Move the zone to ``pool_id`` (default: the default pool): apex NS and SOA rewritten
        for the new pool in one change; the worker creates the zone on the new pool's targets
        (``propagate`` with ``repair``) and removes it from the old pool's (``pool_move``)."""
        ctx.require_admin()
        target = values.get("pool_id")
        if target is not None and not isinstance(target, str):
            raise InvalidObject.single(["pool_id"], "pool_id must be a pool id", "type")

        async def run(conn: AsyncConnection) -> None:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True, owner=True)
            if zone.action == "DELETE":
                raise BadRequest("Can not move a deleting zone")
            new_pool = target or self.settings.default_pool_id
            if new_pool == zone.pool_id:
                raise BadRequest("Target pool must be different for zone pool move")
            if (await conn.execute(sa.select(t.pools.c.id).where(t.pools.c.id == new_pool))
                    ).first() is None:
                raise BadRequest("Target pool does not exist")
            dup = (await conn.execute(sa.select(t.zones.c.id).where(
                t.zones.c.name == zone.name, t.zones.c.pool_id == new_pool,
                t.zones.c.deleted_at.is_(None)))).first()
            if dup is not None:
                raise BadRequest("The target pool already has a zone of this name")
            ns_rows = (await conn.execute(
                sa.select(t.pool_ns_records.c.hostname).where(
                    t.pool_ns_records.c.pool_id == new_pool)
                .order_by(t.pool_ns_records.c.created_at, t.pool_ns_records.c.priority))).all()
            if not ns_rows:
                raise BadRequest("The target pool has no NS records")
            removed, added = await self._rewrite_apex_ns(conn, zone, [r.hostname for r in ns_rows])
            moved = _With(zone, pool_id=new_pool)
            serial = await changes.commit_change(conn, moved, removed, added,
                                                 zone_values={"pool_id": new_pool},
                                                 retention=self.settings.journal_retention)
            await changes.upsert_job(conn, zone.id, "propagate", serial,
                                     payload={"repair": True})
            await changes.upsert_job(conn, zone.id, "pool_move", serial,
                                     payload={"old_pool_id": zone.pool_id})
        await self.tx(run)

    async def _rewrite_apex_ns(self, conn: AsyncConnection, zone: Any,
                               hosts: list[str]) -> tuple[list[bytes], list[bytes]]:
        """Replace the managed apex NS records by ``hosts``; the removed and added wire RRs."""
        rs = (await conn.execute(sa.select(t.recordsets).where(
            t.recordsets.c.zone_id == zone.id, t.recordsets.c.name == zone.name,
            t.recordsets.c.type == "NS"))).first()
        owner = wire.name_wire(zone.name)
        ttl = changes.effective_ttl(rs.ttl if rs else None, zone.ttl)
        old = [] if rs is None else (await conn.execute(sa.select(t.records.c.rdata).where(
            t.records.c.recordset_id == rs.id))).scalars().all()
        new = [wire.name_wire(h) for h in hosts]
        removed = [wire.rr(owner, 2, ttl, bytes(r)) for r in old if bytes(r) not in new]
        added = [wire.rr(owner, 2, ttl, r) for r in new if r not in {bytes(o) for o in old}]
        now = changes.utcnow()
        if rs is None:
            from dnsaas.service.zones import insert_rrsets
            await insert_rrsets(conn, zone, zone.project_id, [dict(
                name=zone.name, type="NS", ttl=None, managed=True,
                records=[(h, w) for h, w in zip(hosts, new, strict=True)])], now)
        else:
            await conn.execute(t.records.delete().where(t.records.c.recordset_id == rs.id))
            head = wire.axfr_head(zone.name, zone.name, "NS")
            await conn.execute(t.records.insert(), [dict(
                id=changes.new_id(), recordset_id=rs.id, zone_id=zone.id, data=h, rdata=w,
                axfr_rr=wire.axfr_rr(head, ttl, w), managed=True, status="PENDING", action="UPDATE",
                serial=zone.serial, version=1, created_at=now) for h, w in zip(hosts, new, strict=True)])
        return removed, added
