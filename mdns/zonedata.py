"""Reading zones from the database for mdns: which zone holds a name, and what is at a name.

Live zones only: ``deleted_at IS NULL``, type PRIMARY or SECONDARY, and **not** action DELETE.
Once the deletion of a zone is committed (action DELETE, still PENDING), mdns stops serving it
and answers REFUSED (NOTAUTH for transfers), exactly as after the purge: the secondaries are
being told to drop the zone, so a refresh that races the deletion must not resurrect it.

Catalog zones (RFC 9432 v2, designate-api.md §2.7) are generated from ``pools`` rows whose
``catalog_zone_fqdn`` is set; :func:`catalog_records` produces their content at query time.

The effective TTL of a recordset is its own ``ttl`` or, when NULL, the zone's; 0 stays 0.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dnsaas import wire as dwire
from dnsaas.storage import tables as t
from mdns.wireutil import soa_minimum, text_to_wire

SOA, NS, CNAME, PTR, TXT = 6, 2, 5, 12, 16
CATALOG_EXPIRE = 2147483646

# (ttl, [rdata, ...]) per type per name
RRSets = dict[str, dict[int, tuple[int, list[bytes]]]]


@dataclass
class ZoneInfo:
    """What mdns needs to know about one served zone."""

    id: str
    name: str  # lowercase, trailing dot
    pool_id: str
    ttl: int
    serial: int
    soa_rdata: bytes
    type: str = "PRIMARY"
    masters: list[str] = field(default_factory=list)
    catalog: bool = False

    @property
    def wire(self) -> bytes:
        return text_to_wire(self.name)

    @property
    def soa_rr_ttl(self) -> int:
        return self.ttl

    @property
    def negative_ttl(self) -> int:
        """RFC 2308: min(SOA TTL, SOA MINIMUM)."""
        return min(self.ttl, soa_minimum(self.soa_rdata))


def candidates(qname: str) -> list[str]:
    """``qname`` and all its ancestors, longest first (``"a.b."`` → ``["a.b.", "b.", "."]``)."""
    labels = qname.rstrip(".").split(".") if qname != "." else []
    out = [".".join(labels[i:]) + "." for i in range(len(labels))]
    out.append(".")
    return out


def _norm(fqdn: str) -> str:
    fqdn = fqdn.strip().lower()
    return fqdn if fqdn.endswith(".") else fqdn + "."


def catalog_soa(serial: int, refresh: int | None) -> bytes:
    """SOA rdata of a catalog zone: ``invalid. invalid. serial refresh 600 2147483646 0``."""
    return dwire.soa_rdata("invalid.", "invalid.", serial, refresh or 3600, 600,
                           CATALOG_EXPIRE, 0)[1]


# Served zones and pool catalog zones that could hold one of ``:names``, in ONE statement built
# once (catalog names are normalised in Python, so every catalog pool comes back; there are few).
_FIND_ZONE = sa.text("""
SELECT z.id, z.name, z.pool_id, z.ttl, z.serial, z.type, z.masters, z.created_at, r.rdata,
       CAST(NULL AS INTEGER) AS refresh
FROM zones z
JOIN recordsets rs ON rs.zone_id = z.id AND rs.name = z.name AND rs.type = 'SOA'
JOIN records r ON r.recordset_id = rs.id
WHERE z.name IN :names AND z.deleted_at IS NULL AND z.type <> 'CATALOG' AND z.action <> 'DELETE'
UNION ALL
SELECT p.id, p.catalog_zone_fqdn, p.id, 0, p.catalog_serial, 'CATALOG', NULL, NULL, NULL,
       p.catalog_zone_refresh
FROM pools p WHERE p.catalog_zone_fqdn IS NOT NULL
""").bindparams(sa.bindparam("names", expanding=True)).columns(
    id=sa.String, name=sa.String, pool_id=sa.String, ttl=sa.Integer, serial=sa.BigInteger,
    type=sa.String, masters=sa.JSON, created_at=sa.DateTime, rdata=sa.LargeBinary,
    refresh=sa.Integer)


async def find_zone(conn: AsyncConnection, qname: str) -> ZoneInfo | None:
    """The served zone that is the closest enclosing zone of ``qname`` (lowercase FQDN).

    One statement (zones and pool catalog zones together), so on an autocommit connection the
    serial and SOA returned are one consistent state of the zone.
    """
    names = candidates(qname)
    wanted = set(names)
    rows = (await conn.execute(_FIND_ZONE, {"names": names})).all()
    best: ZoneInfo | None = None
    best_created: Any = None
    cat: ZoneInfo | None = None
    for row in rows:
        if row.type == "CATALOG":
            name = _norm(row.name)
            if name in wanted and (cat is None or len(name) > len(cat.name)):
                cat = ZoneInfo(id=f"catalog:{row.id}", name=name, pool_id=row.id, ttl=0,
                               serial=int(row.serial),
                               soa_rdata=catalog_soa(int(row.serial), row.refresh),
                               type="CATALOG", catalog=True)
            continue
        # longest name wins; between equal names the oldest zone (as ORDER BY created_at did)
        if (best is None or len(row.name) > len(best.name)
                or (len(row.name) == len(best.name) and row.created_at < best_created)):
            best = ZoneInfo(id=row.id, name=row.name, pool_id=row.pool_id, ttl=row.ttl,
                            serial=int(row.serial), soa_rdata=row.rdata, type=row.type,
                            masters=list(row.masters or []))
            best_created = row.created_at
    if cat is not None and (best is None or len(cat.name) > len(best.name)):
        return cat
    return best


async def find_catalog(conn: AsyncConnection, names: Iterable[str]) -> ZoneInfo | None:
    """The pool catalog zone whose name is one of ``names`` (longest wins)."""
    wanted = set(names)
    rows = (await conn.execute(
        sa.select(t.pools.c.id, t.pools.c.catalog_zone_fqdn, t.pools.c.catalog_serial,
                  t.pools.c.catalog_zone_refresh)
        .where(t.pools.c.catalog_zone_fqdn.is_not(None)))).all()
    best: ZoneInfo | None = None
    for row in rows:
        name = _norm(row.catalog_zone_fqdn)
        if name in wanted and (best is None or len(name) > len(best.name)):
            best = ZoneInfo(id=f"catalog:{row.id}", name=name, pool_id=row.id, ttl=0,
                            serial=int(row.catalog_serial),
                            soa_rdata=catalog_soa(int(row.catalog_serial),
                                                  row.catalog_zone_refresh),
                            type="CATALOG", catalog=True)
    return best


async def zone_by_id(conn: AsyncConnection, zone: ZoneInfo) -> ZoneInfo | None:
    """``zone`` re-read (serial and SOA as of the connection's snapshot); None if gone."""
    if zone.catalog:
        return await find_catalog(conn, [zone.name])
    z, rs, r = t.zones, t.recordsets, t.records
    row = (await conn.execute(
        sa.select(z.c.serial, z.c.ttl, z.c.action, z.c.deleted_at, r.c.rdata)
        .select_from(z.join(rs, sa.and_(rs.c.zone_id == z.c.id, rs.c.name == z.c.name,
                                           rs.c.type == "SOA"))
                     .join(r, r.c.recordset_id == rs.c.id))
        .where(z.c.id == zone.id))).first()
    if row is None or row.deleted_at is not None or row.action == "DELETE":
        return None
    return ZoneInfo(id=zone.id, name=zone.name, pool_id=zone.pool_id, ttl=row.ttl,
                    serial=int(row.serial), soa_rdata=row.rdata, type=zone.type,
                    masters=zone.masters)


# --- contents -------------------------------------------------------------------------------
async def catalog_records(conn: AsyncConnection, cat: ZoneInfo) -> list[tuple[str, int, int, bytes]]:
    """The catalog zone's records except the SOA: NS, version TXT and one PTR per member."""
    rows = (await conn.execute(
        sa.select(t.zones.c.id, t.zones.c.name).where(
            t.zones.c.pool_id == cat.pool_id, t.zones.c.deleted_at.is_(None),
            t.zones.c.action != "DELETE", t.zones.c.type != "CATALOG")
        .order_by(t.zones.c.created_at, t.zones.c.id))).all()
    out = [(cat.name, NS, 0, text_to_wire("invalid.")),
           ("version." + cat.name, TXT, 0, b"\x012")]
    out += [(f"{row.id}.zones.{cat.name}", PTR, 0, text_to_wire(row.name)) for row in rows]
    return out


class ZoneView:
    """Name → RRsets access to one zone, for the answer logic in :mod:`mdns.handler`."""

    def __init__(self, conn: AsyncConnection, zone: ZoneInfo):
        self.conn = conn
        self.zone = zone
        self._catalog: RRSets | None = None

    async def _catalog_sets(self) -> RRSets:
        if self._catalog is None:
            sets: RRSets = {self.zone.name: {SOA: (0, [self.zone.soa_rdata])}}
            for name, rtype, ttl, rdata in await catalog_records(self.conn, self.zone):
                sets.setdefault(name, {}).setdefault(rtype, (ttl, []))[1].append(rdata)
            self._catalog = sets
        return self._catalog

    async def rrsets(self, names: Iterable[str]) -> RRSets:
        """RRsets at each of ``names`` that exist (names lowercase, absolute)."""
        wanted = list(dict.fromkeys(names))
        if self.zone.catalog:
            sets = await self._catalog_sets()
            return {n: sets[n] for n in wanted if n in sets}
        rs, r = t.recordsets, t.records
        rows = (await self.conn.execute(
            sa.select(rs.c.name, rs.c.type, rs.c.ttl, r.c.rdata)
            .select_from(rs.join(r, r.c.recordset_id == rs.c.id))
            .where(rs.c.zone_id == self.zone.id, rs.c.name.in_(wanted))
            .order_by(r.c.created_at, r.c.id))).all()
        out: RRSets = {}
        for row in rows:
            code = dwire.type_code(row.type)
            ttl = self.zone.ttl if row.ttl is None else row.ttl
            out.setdefault(row.name, {}).setdefault(code, (ttl, []))[1].append(row.rdata)
        return out

    async def has_descendants(self, name: str) -> bool:
        """True when some record is owned by a name below ``name`` (an empty non-terminal)."""
        if self.zone.catalog:
            sets = await self._catalog_sets()
            return any(n.endswith("." + name) for n in sets)
        rs = t.recordsets
        row = (await self.conn.execute(
            sa.select(rs.c.id).where(rs.c.zone_id == self.zone.id,
                                     rs.c.name.endswith("." + name, autoescape=True)).limit(1)
        )).first()
        return row is not None


async def stream_records(conn: AsyncConnection, zone: ZoneInfo, batch: int = 5000,
                         only_missing: bool = False,
                         ) -> AsyncIterator[list[tuple[str, str | int, int | None, bytes]]]:
    """Every record of the zone except the SOA, in batches of ``(name, type, ttl, rdata)``.

    ``type`` is the mnemonic for database rows; ``ttl`` None means the zone TTL. Uses a
    server-side cursor (``conn.stream``) so memory stays bounded on huge zones.
    ``only_missing``: only records without a stored ``axfr_rr`` (NULL: rows written by paths
    that do not fill it, or whose TTL changed on SQLite).
    """
    if zone.catalog:
        recs: list[Any] = list(await catalog_records(conn, zone))
        for i in range(0, len(recs), batch):
            yield recs[i:i + batch]
        return
    rs, r = t.recordsets, t.records
    query = (sa.select(rs.c.name, rs.c.type, rs.c.ttl, r.c.rdata)
             .select_from(rs.join(r, r.c.recordset_id == rs.c.id))
             .where(rs.c.zone_id == zone.id, rs.c.type != "SOA"))
    if only_missing:
        query = query.where(r.c.axfr_rr.is_(None))
    result = await conn.stream(query.execution_options(yield_per=batch))
    async for part in result.partitions(batch):
        yield [tuple(row) for row in part]  # type: ignore[misc]


def reader_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine mdns reads with.

    PostgreSQL: ``engine`` itself. SQLite: a second engine on the same file whose transactions
    start with a plain (deferred) ``BEGIN`` — the main engine takes the write lock up front
    (``BEGIN IMMEDIATE``), which would make every mdns read block writers. Under WAL a deferred
    read transaction sees one snapshot from its first read on.
    """
    if engine.dialect.name != "sqlite":
        return engine
    reader = create_async_engine(engine.url, connect_args={"timeout": 30})

    @event.listens_for(reader.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(reader.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # autocommit connections (single-statement reads) run each statement on its own
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN")

    return reader
