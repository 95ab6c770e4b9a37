"""Who may transfer a zone (AXFR/IXFR) and who may NOTIFY a secondary zone.

Transfers (checked in this order):

1. A request signed with a valid key is allowed when the key is scoped to the zone
   (scope ZONE, resource_id = zone id) or to the zone's pool (scope POOL, resource_id = pool
   id); any other key is REFUSED.
2. TSIG is *required* — unsigned requests are REFUSED — when any key is scoped to the zone or
   to its pool ("configured").
3. Otherwise an unsigned request is allowed from the pool's hosts (``pool_targets`` option
   ``host`` and ``masters`` hosts, ``pool_nameservers`` hosts, ``pool_also_notifies`` hosts)
   and from ``settings.allow_transfer_from`` networks; everyone else is REFUSED.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.storage import tables as t
from mdns.tsig import KeyEntry
from mdns.zonedata import ZoneInfo


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


async def pool_hosts(conn: AsyncConnection, pool_id: str) -> list[str]:
    """Addresses of the pool's targets, nameservers and also-notifies."""
    hosts: list[str] = []
    for row in (await conn.execute(sa.select(t.pool_targets.c.options, t.pool_targets.c.masters)
                                   .where(t.pool_targets.c.pool_id == pool_id))).all():
        options = row.options or {}
        if isinstance(options, dict) and options.get("host"):
            hosts.append(str(options["host"]))
        for m in row.masters or []:
            if isinstance(m, dict) and m.get("host"):
                hosts.append(str(m["host"]))
    for table in (t.pool_nameservers, t.pool_also_notifies):
        hosts += [r.host for r in (await conn.execute(
            sa.select(table.c.host).where(table.c.pool_id == pool_id))).all()]
    return hosts


async def tsig_required(conn: AsyncConnection, zone: ZoneInfo) -> bool:
    """True when a key is scoped to the zone or to its pool."""
    k = t.tsigkeys
    row = (await conn.execute(sa.select(k.c.id).where(sa.or_(
        sa.and_(k.c.scope == "ZONE", k.c.resource_id == zone.id),
        sa.and_(k.c.scope == "POOL", k.c.resource_id == zone.pool_id))).limit(1))).first()
    return row is not None


def key_allows(entry: KeyEntry, zone: ZoneInfo) -> bool:
    """A valid key opens the zone when scoped to it or to its pool."""
    if entry.scope == "ZONE":
        return entry.resource_id == zone.id
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
""").columns(kind=sa.String, options=sa.JSON, masters=sa.JSON, host=sa.String)


async def acl_data(conn: AsyncConnection, zone: ZoneInfo) -> tuple[bool, list[str]]:
    """(TSIG required, pool hosts) for ``zone`` in one round trip."""
    required = False
    hosts: list[str] = []
    for row in (await conn.execute(_ACL, {"pid": zone.pool_id, "zid": zone.id})).all():
        if row.kind == "k":
            required = True
        elif row.kind == "h":
            hosts.append(row.host)
        else:
            options = row.options or {}
            if isinstance(options, dict) and options.get("host"):
                hosts.append(str(options["host"]))
            for m in row.masters or []:
                if isinstance(m, dict) and m.get("host"):
                    hosts.append(str(m["host"]))
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
