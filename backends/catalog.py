"""RFC 9432 (version 2) catalog zones: no RPC to the nameservers at all.

mdns serves one catalog zone per pool (``pools.catalog_zone_fqdn``) generated from the pool's
live zones at ``pools.catalog_serial``. Adding or removing a member is therefore: bump the
catalog serial (after the member zone is visible to mdns, or after it was marked DELETE) and
NOTIFY the catalog to the pool's nameservers, which consume it (BIND ``catalog-zones``, PowerDNS
``Consumer`` zones, Knot ``catalog-role: interpret``)::

    catalog_zone:
      catalog_zone_fqdn: cat.example.org.
    targets:
      - type: catalog
        masters: [{host: 127.0.0.1, port: 5354}]
        options: {}
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from backends.base import Backend, BackendError, BackendOptions, ZoneRef

log = logging.getLogger(__name__)


class CatalogOptions(BackendOptions):
    pass


class CatalogBackend(Backend):
    """Bumps the pool's catalog serial and NOTIFYs the catalog zone."""

    name = "catalog"
    Options = CatalogOptions
    options: CatalogOptions
    SUPPORTS_CATALOG = True

    async def bump(self) -> tuple[str, int]:
        """Raise the pool's catalog serial; returns (catalog zone name, new serial)."""
        from dnsaas.service.changes import next_serial, utcnow
        from dnsaas.storage import tables as t
        from dnsaas.storage.db import in_transaction

        if self.env.engine is None:
            raise BackendError("the catalog backend needs the database")

        async def run(conn: AsyncConnection) -> tuple[str, int]:
            q = sa.select(t.pools.c.catalog_serial, t.pools.c.catalog_zone_fqdn).where(
                t.pools.c.id == self.target.pool_id)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            row = (await conn.execute(q)).first()
            if row is None or not row.catalog_zone_fqdn:
                raise BackendError(f"pool {self.target.pool_id} has no catalog zone")
            serial = next_serial(int(row.catalog_serial))
            await conn.execute(t.pools.update().where(t.pools.c.id == self.target.pool_id)
                               .values(catalog_serial=serial, updated_at=utcnow()))
            return str(row.catalog_zone_fqdn), serial
        return await in_transaction(self.env.engine, run)

    async def _changed(self) -> None:
        name, serial = await self.bump()
        targets = list(self.env.nameservers)
        if self.notify_endpoint and self.notify_endpoint not in targets:
            targets.append(self.notify_endpoint)
        if self.env.notify is not None and targets:
            await self.env.notify(name, serial, targets)

    async def create_zone(self, zone: ZoneRef) -> None:
        await self._changed()

    async def delete_zone(self, zone: ZoneRef, hard_delete: bool = False) -> None:
        await self._changed()
