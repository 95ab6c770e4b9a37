"""Status transitions reported by the worker (Designate's ``update_status``), by serial."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.service import changes, pgfast
from dnsaas.service.base import ServiceBase
from dnsaas.storage import tables as t

#: :meth:`StatusService.mark_propagated` for a zone that is not being deleted, on PostgreSQL, as
#: ONE autocommit statement (was BEGIN, SET LOCAL, a read, three updates and COMMIT: seven
#: round trips per run of the worker): the same guarded updates, committed asynchronously
#: (statuses are derived from serials: a lost commit only means marking again). Returns the
#: zone's action and status as read, and whether the zone itself became ACTIVE; no row when
#: the zone is gone.
MARK_PROPAGATED = """
WITH sc AS (SELECT set_config('synchronous_commit', 'off', true)),
z AS (SELECT action, status FROM zones WHERE id = $1 AND deleted_at IS NULL),
go AS (SELECT 1 FROM z WHERE action <> 'DELETE'),
rs AS (UPDATE recordsets SET status = 'ACTIVE', action = 'NONE'
       WHERE zone_id = $1 AND serial <= $2 AND status <> 'ACTIVE'
         AND status IN ('PENDING', 'ERROR') AND EXISTS (SELECT 1 FROM go) RETURNING 1),
r AS (UPDATE records SET status = 'ACTIVE', action = 'NONE'
      WHERE zone_id = $1 AND serial <= $2 AND status <> 'ACTIVE'
        AND status IN ('PENDING', 'ERROR') AND EXISTS (SELECT 1 FROM go) RETURNING 1),
zu AS (UPDATE zones SET status = 'ACTIVE', action = 'NONE'
       WHERE id = $1 AND serial <= $2 AND status IN ('PENDING', 'ERROR') AND action <> 'DELETE'
         AND deleted_at IS NULL RETURNING 1)
SELECT z.action, z.status, EXISTS (SELECT 1 FROM zu) AS done,
       (SELECT count(*) FROM rs) + (SELECT count(*) FROM r) AS marked
FROM z, sc
"""


class StatusService(ServiceBase):
    """Zone and recordset statuses: PENDING → ACTIVE or ERROR, and deletion."""

    async def mark_propagated(self, zone_id: str, serial: int, *,
                              deleted: bool = False) -> str | None:
        """The pool serves ``serial``: what it covers becomes ACTIVE. ``deleted``: the zone was
        removed from the pool, so a deleting zone is soft-deleted (a deletion that arrived
        after the worker read the zone is left for the next run). Returns the zone's new status
        (None if the zone is gone)."""
        if not deleted and pgfast.enabled(self.engine):
            async with pgfast.driver(self.engine) as drv:
                row = await drv.fetchrow(MARK_PROPAGATED, zone_id, serial)
            if row is None:
                return None
            return "ACTIVE" if row["done"] else str(row["status"])

        async def run(conn: AsyncConnection) -> str | None:
            if conn.dialect.name == "postgresql":
                # Statuses are derived from serials: losing this commit in a crash only means
                # marking again, so don't wait for the WAL flush.
                await conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            zone = (await conn.execute(sa.select(t.zones.c.action, t.zones.c.status).where(
                t.zones.c.id == zone_id, t.zones.c.deleted_at.is_(None)))).first()
            if zone is None:
                return None
            if zone.action == "DELETE":
                if not deleted:
                    return str(zone.status)
                locked = await changes.lock_zone(conn, zone_id)
                if locked is None or locked.action != "DELETE":
                    return None if locked is None else str(locked.status)
                now = changes.utcnow()
                await conn.execute(t.zones.update().where(t.zones.c.id == zone_id).values(
                    status="DELETED", action="NONE", deleted_at=now, updated_at=now))
                await conn.execute(t.jobs.delete().where(t.jobs.c.zone_id == zone_id,
                                                         t.jobs.c.kind != "propagate"))
                return "DELETED"
            # No zone lock: each update is guarded by serial and status, and row locks re-check
            # those guards on the newest row, so this never waits behind a whole API write.
            for table in (t.recordsets, t.records):
                await conn.execute(table.update().where(
                    table.c.zone_id == zone_id, table.c.serial <= serial,
                    table.c.status != "ACTIVE",  # matches the partial "unsettled" index
                    table.c.status.in_(("PENDING", "ERROR"))).values(status="ACTIVE",
                                                                      action="NONE"))
            done = (await conn.execute(t.zones.update().where(
                t.zones.c.id == zone_id, t.zones.c.serial <= serial,
                t.zones.c.status.in_(("PENDING", "ERROR")), t.zones.c.action != "DELETE",
                t.zones.c.deleted_at.is_(None)).values(status="ACTIVE", action="NONE"))).rowcount
            if done:
                return "ACTIVE"
            now_status = (await conn.execute(sa.select(t.zones.c.status).where(
                t.zones.c.id == zone_id))).scalar_one_or_none()
            return None if now_status is None else str(now_status)
        return await self.tx(run)

    async def mark_error(self, zone_id: str, serial: int | None = None) -> None:
        """Propagation gave up for now: PENDING becomes ERROR (the action is kept)."""
        async def run(conn: AsyncConnection) -> None:
            for table in (t.recordsets, t.records):
                await conn.execute(table.update().where(
                    table.c.zone_id == zone_id, table.c.status != "ACTIVE",
                    table.c.status == "PENDING").values(status="ERROR"))
            await conn.execute(t.zones.update().where(
                t.zones.c.id == zone_id, t.zones.c.status == "PENDING",
                t.zones.c.deleted_at.is_(None)).values(status="ERROR"))
        await self.tx(run)

    async def purge_deleted(self, older_than: timedelta = timedelta(days=7),
                            batch: int = 100) -> int:
        """Hard-delete zones soft-deleted before ``older_than``; returns how many."""
        async def run(conn: AsyncConnection) -> int:
            cutoff = changes.utcnow() - older_than
            ids = (await conn.execute(sa.select(t.zones.c.id).where(
                t.zones.c.deleted_at.is_not(None), t.zones.c.deleted_at <= cutoff
            ).limit(batch))).scalars().all()
            if ids:
                for table in (t.records, t.recordsets, t.zone_changes, t.shared_zones):
                    await conn.execute(table.delete().where(table.c.zone_id.in_(ids)))
                await conn.execute(t.jobs.delete().where(t.jobs.c.zone_id.in_(ids)))
                await conn.execute(t.zones.delete().where(t.zones.c.id.in_(ids)))
            return len(ids)
        return await self.tx(run)
