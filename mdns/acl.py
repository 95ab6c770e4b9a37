"""Who may transfer a zone (AXFR/IXFR) and who may NOTIFY a secondary zone.

Transfers (checked in this order):

1. A request signed with a valid key is allowed when the key is scoped to the zone
   (scope ZONE, resource_id = zone id) or to the zone's pool (scope POOL, resource_id = pool
   id), or, for a pool's catalog zone, is the catalog key pools.yaml configures (scope
   CATALOG, resource_id = pool id); any other key is REFUSED.
2. TSIG is *required* — unsigned requests are REFUSED — when any key is scoped to the zone or
   to its pool, or the zone is a catalog whose pool has a catalog key ("configured").
3. Otherwise an unsigned request is allowed from the pool's hosts (``pool_targets`` option
   ``host`` and ``masters`` hosts, ``pool_nameservers`` hosts, ``pool_also_notifies`` hosts)
   and from ``settings.allow_transfer_from`` networks; everyone else is REFUSED.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.storage import tables as t
from mdns.transfer import MAX_CHAIN
from mdns.tsig import KeyEntry
from mdns.zonedata import ZoneInfo, _norm, catalog_soa


def _addr(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(value).strip("[]"))
    except ValueError:
        return None


def host_of(master: str) -> str:
    """``host``, ``host:port`` or ``[v6]:port`` → host."""
    master = master.strip()
    if master.startswith("["):
        return master[1:].partition("]")[0]
    if master.count(":") == 1:
        return master.split(":")[0]
    return master


def in_networks(source: str, networks: Iterable[str]) -> bool:
    """True when ``source`` lies in one of ``networks`` (bad entries are ignored)."""
    ip = _addr(source)
    if ip is None:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def same_host(source: str, hosts: Iterable[str]) -> bool:
    """True when ``source`` equals one of ``hosts`` as an IP address."""
    ip = _addr(source)
    return ip is not None and any(_addr(h) == ip for h in hosts)


def target_hosts(options: Any, masters: Any) -> list[str]:
    """The addresses a pool target stands for: its ``host`` option and its masters' hosts."""
    hosts = [str(options["host"])] if isinstance(options, dict) and options.get("host") else []
    hosts += [str(m["host"]) for m in masters or [] if isinstance(m, dict) and m.get("host")]
    return hosts


async def pool_hosts(conn: AsyncConnection, pool_id: str) -> list[str]:
    """Addresses of the pool's targets, nameservers and also-notifies."""
    hosts: list[str] = []
    for row in (await conn.execute(sa.select(t.pool_targets.c.options, t.pool_targets.c.masters)
                                   .where(t.pool_targets.c.pool_id == pool_id))).all():
        hosts += target_hosts(row.options, row.masters)
    for table in (t.pool_nameservers, t.pool_also_notifies):
        hosts += [r.host for r in (await conn.execute(
            sa.select(table.c.host).where(table.c.pool_id == pool_id))).all()]
    return hosts


async def tsig_required(conn: AsyncConnection, zone: ZoneInfo) -> bool:
    """True when a key is scoped to the zone or to its pool."""
    k = t.tsigkeys
    row = (await conn.execute(sa.select(k.c.id).where(sa.or_(
        sa.and_(k.c.scope == "ZONE", k.c.resource_id == zone.id),
        sa.and_(k.c.scope == "POOL", k.c.resource_id == zone.pool_id),
        sa.and_(k.c.scope == "CATALOG", k.c.resource_id == zone.pool_id,
                sa.literal(zone.catalog)))).limit(1))).first()
    return row is not None


def key_allows(entry: KeyEntry, zone: ZoneInfo) -> bool:
    """A valid key opens the zone when scoped to it or to its pool; a pool's catalog key
    (scope CATALOG, set by pools.yaml ``catalog_zone_tsig_key``) opens its catalog zone."""
    if entry.scope == "ZONE":
        return entry.resource_id == zone.id
    if entry.scope == "CATALOG":
        return zone.catalog and entry.resource_id == zone.pool_id
    return entry.scope == "POOL" and entry.resource_id == zone.pool_id


# ONE statement, built once, for the transfer rules: the pool's hosts, and a row per key
# scoped to the zone (:zid) or its pool (:pid).
_ACL = sa.text("""
SELECT 't' AS kind, options, masters, CAST(NULL AS VARCHAR(255)) AS host
FROM pool_targets WHERE pool_id = :pid
UNION ALL SELECT 'h', NULL, NULL, host FROM pool_nameservers WHERE pool_id = :pid
UNION ALL SELECT 'h', NULL, NULL, host FROM pool_also_notifies WHERE pool_id = :pid
UNION ALL SELECT 'k', NULL, NULL, NULL FROM tsigkeys
WHERE (scope = 'ZONE' AND resource_id = :zid) OR (scope = 'POOL' AND resource_id = :pid)
   OR (scope = 'CATALOG' AND resource_id = :pid AND :catalog)
""").columns(kind=sa.String, options=sa.JSON, masters=sa.JSON, host=sa.String)


async def acl_data(conn: AsyncConnection, zone: ZoneInfo) -> tuple[bool, list[str]]:
    """(TSIG required, pool hosts) for ``zone`` in one round trip."""
    required = False
    hosts: list[str] = []
    for row in (await conn.execute(_ACL, {"pid": zone.pool_id, "zid": zone.id,
                                          "catalog": zone.catalog})).all():
        if row.kind == "k":
            required = True
        elif row.kind == "h":
            hosts.append(row.host)
        else:
            hosts += target_hosts(row.options, row.masters)
    return required, hosts


async def transfer_allowed(conn: AsyncConnection, zone: ZoneInfo, source: str,
                           key: KeyEntry | None, allow_from: Iterable[str]) -> bool:
    """Apply the rules of this module's docstring (at most one query)."""
    if key is not None:
        return key_allows(key, zone)
    required, hosts = await acl_data(conn, zone)
    if required:
        return False
    return in_networks(source, allow_from) or same_host(source, hosts)


def notify_allowed(zone: ZoneInfo, source: str) -> bool:
    """NOTIFY for a SECONDARY zone only from one of its masters (address match, any port)."""
    return same_host(source, [host_of(m) for m in zone.masters])


# The zone a transfer asks for (exact name: zones first, then pool catalog zones, whose names
# are normalised in Python) AND the data of the transfer rules for its pool, in ONE statement:
# kind 'z' zone, 'c' catalog pool, 't' pool target, 'h' nameserver/also-notify host,
# 'k' scoped key (pool_id = the key's resource_id, type = its scope).
_TRANSFER_LOOKUP_SQL = """
WITH RECURSIVE zz AS (
    SELECT z.id, z.name, z.pool_id, z.ttl, z.serial, z.type, z.masters, z.created_at, r.rdata
    FROM zones z
    JOIN recordsets rs ON rs.zone_id = z.id AND rs.name = z.name AND rs.type = 'SOA'
    JOIN records r ON r.recordset_id = rs.id
    WHERE z.name = :name AND z.deleted_at IS NULL AND z.type <> 'CATALOG'
      AND z.action <> 'DELETE'),
cc AS (SELECT id, catalog_zone_fqdn, catalog_serial, catalog_zone_refresh FROM pools
       WHERE catalog_zone_fqdn IS NOT NULL),
pids AS (SELECT pool_id AS pid FROM zz UNION SELECT id FROM cc),
chain(id, zone_id, serial_from, incremental, depth) AS (
    SELECT c.id, c.zone_id, c.serial_from, c.incremental, 1 FROM zone_changes c
    JOIN zz ON c.zone_id = zz.id AND c.serial_to = zz.serial
    WHERE :want AND zz.serial <> :client
  UNION ALL
    SELECT c.id, c.zone_id, c.serial_from, c.incremental, chain.depth + 1
    FROM chain JOIN zone_changes c ON c.zone_id = chain.zone_id AND c.serial_to = chain.serial_from
    WHERE chain.serial_from <> :client AND chain.incremental AND chain.depth < :maxdepth)
SELECT 'z' AS kind, id, name, pool_id, ttl, serial, type, masters, created_at, rdata,
       CAST(NULL AS INTEGER) AS refresh, CAST(NULL AS JSON) AS options,
       CAST(NULL AS VARCHAR(255)) AS host, CAST(NULL AS BIGINT) AS serial_to,
       CAST(NULL AS BYTEA) AS added
FROM zz
UNION ALL SELECT 'c', id, catalog_zone_fqdn, id, 0, catalog_serial, 'CATALOG', NULL, NULL, NULL,
       catalog_zone_refresh, NULL, NULL, NULL, NULL FROM cc
UNION ALL SELECT 't', NULL, NULL, pool_id, NULL, NULL, NULL, masters, NULL, NULL, NULL, options, NULL,
       NULL, NULL
FROM pool_targets WHERE pool_id IN (SELECT pid FROM pids)
UNION ALL SELECT 'h', NULL, NULL, pool_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, host,
       NULL, NULL
FROM pool_nameservers WHERE pool_id IN (SELECT pid FROM pids)
UNION ALL SELECT 'h', NULL, NULL, pool_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, host,
       NULL, NULL
FROM pool_also_notifies WHERE pool_id IN (SELECT pid FROM pids)
UNION ALL SELECT 'k', NULL, NULL, resource_id, NULL, NULL, scope, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL
FROM tsigkeys WHERE (scope = 'ZONE' AND resource_id IN (SELECT id FROM zz))
                 OR (scope = 'POOL' AND resource_id IN (SELECT pid FROM pids))
                 OR (scope = 'CATALOG' AND resource_id IN (SELECT id FROM cc))
UNION ALL SELECT 'j', NULL, NULL, NULL, chain.depth, c.serial_from, NULL, NULL, NULL, c.removed,
       NULL, NULL, NULL, c.serial_to, c.added
FROM chain JOIN zone_changes c ON c.id = chain.id
WHERE EXISTS (SELECT 1 FROM chain WHERE serial_from = :client)
  AND NOT EXISTS (SELECT 1 FROM chain WHERE NOT incremental)
"""
_TRANSFER_LOOKUP = sa.text(_TRANSFER_LOOKUP_SQL).columns(
             kind=sa.String, id=sa.String, name=sa.String, pool_id=sa.String, ttl=sa.Integer,
             serial=sa.BigInteger, type=sa.String, masters=sa.JSON, created_at=sa.DateTime,
             rdata=sa.LargeBinary, refresh=sa.Integer, options=sa.JSON, host=sa.String,
             serial_to=sa.BigInteger, added=sa.LargeBinary)
# The same on asyncpg directly (a prepared statement, no SQLAlchemy result processing).
_TRANSFER_LOOKUP_PG = (_TRANSFER_LOOKUP_SQL.replace(":name", "$1::text").replace(":client", "$2::bigint")
                       .replace(":want", "$3::boolean").replace(":maxdepth", "$4::integer"))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _lookup_rows(conn: AsyncConnection, qname: str, client: int, want: bool) -> list[Any]:
    if conn.dialect.driver == "asyncpg":
        drv = (await conn.get_raw_connection()).driver_connection
        return [SimpleNamespace(**dict(r)) for r in await drv.fetch(  # type: ignore[union-attr]
            _TRANSFER_LOOKUP_PG, qname, client, want, MAX_CHAIN)]
    return list((await conn.execute(_TRANSFER_LOOKUP, {
        "name": qname, "client": client, "want": want, "maxdepth": MAX_CHAIN})).all())


async def transfer_lookup(conn: AsyncConnection, qname: str, source: str, key: KeyEntry | None,
                          allow_from: Iterable[str], client_serial: int | None = None,
                          ) -> tuple[ZoneInfo | None, bool, list[Any] | None]:
    """The zone named ``qname`` (None: not served), whether ``source``/``key`` may transfer it,
    and, when ``client_serial`` is given, the IXFR journal chain from it to the zone's serial.

    One round trip: the zone (serial and SOA as one state), the rules' data and the chain
    walked back from exactly that serial; the same decisions as
    :func:`mdns.zonedata.find_zone` with an exact match plus :func:`transfer_allowed`. The
    chain is the rows :func:`mdns.transfer.plan_ixfr` takes (oldest first; empty when the
    journal does not lead from the client's serial to the current one); None when not asked.
    """
    want = client_serial is not None
    rows = await _lookup_rows(conn, qname, client_serial or 0, want)
    zone: ZoneInfo | None = None
    created: Any = None
    for row in rows:
        if row.kind == "z" and (zone is None or row.created_at < created):
            zone = ZoneInfo(id=row.id, name=row.name, pool_id=row.pool_id, ttl=row.ttl,
                            serial=int(row.serial), soa_rdata=row.rdata, type=row.type,
                            masters=list(_json(row.masters) or []))
            created = row.created_at
    if zone is None:
        for row in rows:
            if row.kind == "c" and _norm(row.name) == qname:
                zone = ZoneInfo(id=f"catalog:{row.id}", name=qname, pool_id=row.id, ttl=0,
                                serial=int(row.serial),
                                soa_rdata=catalog_soa(int(row.serial), row.refresh),
                                type="CATALOG", catalog=True)
                break
    if zone is None:
        return None, False, None
    chain = None
    if want:
        chain = [SimpleNamespace(serial_from=int(r.serial), serial_to=int(r.serial_to),
                                 removed=r.rdata, added=r.added)
                 for r in sorted((r for r in rows if r.kind == "j"), key=lambda r: -r.ttl)]
    if key is not None:
        return zone, key_allows(key, zone), chain
    hosts: list[str] = []
    for row in rows:
        if row.kind == "k":
            if (row.type == "ZONE" and row.pool_id == zone.id) or \
                    (row.type == "POOL" and row.pool_id == zone.pool_id) or \
                    (row.type == "CATALOG" and zone.catalog and row.pool_id == zone.pool_id):
                return zone, False, chain  # TSIG required
        elif row.pool_id != zone.pool_id:
            continue
        elif row.kind == "h":
            hosts.append(row.host)
        elif row.kind == "t":
            hosts += target_hosts(_json(row.options), _json(row.masters))
    return zone, in_networks(source, allow_from) or same_host(source, hosts), chain
