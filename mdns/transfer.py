"""AXFR and IXFR: message bodies assembled straight from stored wire rdata.

A transfer is cached as a list of *bodies* — the answer RRs of each message, owner names
compressed against the question name at offset 12 (which is always the zone apex) — keyed by
``(zone_id, serial)``. Serving a request only prepends a 12-byte header and the request's own
question to each body (and signs it when the request was signed), so a warm AXFR is a series
of ``memcpy``-sized writes. A serial identifies the zone's content, so the cache can never
serve stale data; it is bounded in bytes (LRU).

AXFR reads one consistent snapshot: on PostgreSQL a ``REPEATABLE READ READ ONLY`` transaction,
on SQLite one read transaction (WAL), streaming records with a server-side cursor.

IXFR (RFC 1995) uses the ``zone_changes`` journal: the chain of entries from the client's
serial to the current one is condensed into one difference sequence. A client serial that is
current (or newer) gets the single current SOA; one that is not in the journal, or a chain
that crosses an ``incremental=False`` entry, gets an AXFR-style reply.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dnsaas import wire as dwire
from mdns.wireutil import iter_rrs, serial_gt, soa_serial
from mdns.zonedata import SOA, ZoneInfo, stream_records, zone_by_id

# Room for the 12-byte header, the question (≤ 255 + 4) and a TSIG RR (≤ ~600 bytes).
MAX_BODY = 65535 - 12 - 259 - 700
_RRH = struct.Struct("!HHIH")
_H = struct.Struct("!H")


@dataclass
class Rendered:
    """A rendered transfer: ``(ancount, body)`` per message."""

    bodies: list[tuple[int, bytes]] = field(default_factory=list)
    nbytes: int = 0
    records: int = 0
    kind: str = "axfr"  # for cached IXFR decisions: "incremental" or "axfr"


class TransferCache:
    """Rendered transfers, bounded in bytes, least recently used out.

    AXFRs are keyed by ``(zone_id, serial)``; condensed IXFR replies by ``(zone_id, serial,
    from_serial)`` — both share one byte budget. Storing anything for a newer serial of a zone
    drops everything cached for its older serials (they can never be served again).
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[tuple[str, int, int | None], Rendered] = OrderedDict()

    def get(self, zone_id: str, serial: int, from_serial: int | None = None) -> Rendered | None:
        """The AXFR of ``zone_id`` at ``serial`` (or its IXFR from ``from_serial``), if cached."""
        key = (zone_id, serial, from_serial)
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, zone_id: str, serial: int, item: Rendered, from_serial: int | None = None) -> None:
        """Cache ``item``; too large items are not kept."""
        key = (zone_id, serial, from_serial)
        if item.nbytes > self.max_bytes or key in self._items:
            return
        # Older serials of the same zone are useless from now on.
        for old_key in [k for k in self._items if k[0] == zone_id and k[1] != serial]:
            self.nbytes -= self._items.pop(old_key).nbytes
        self._items[key] = item
        self.nbytes += item.nbytes
        while self.nbytes > self.max_bytes and self._items:
            _, old = self._items.popitem(last=False)
            self.nbytes -= old.nbytes

    def __len__(self) -> int:
        return len(self._items)


def soa_rr_compressed(zone: ZoneInfo) -> bytes:
    """The zone's SOA as an RR whose owner is a pointer to the question name."""
    return b"\xc0\x0c" + _RRH.pack(SOA, 1, zone.ttl, len(zone.soa_rdata)) + zone.soa_rdata


def soa_rr_full(zone: ZoneInfo) -> bytes:
    """The zone's SOA as an uncompressed RR."""
    return zone.wire + _RRH.pack(SOA, 1, zone.ttl, len(zone.soa_rdata)) + zone.soa_rdata


def _label_wire(rel: str) -> bytes:
    """Wire labels of a relative text name without escapes (``"a.b"`` → ``\\x01a\\x01b``)."""
    out = bytearray()
    for label in rel.split("."):
        raw = label.encode()
        out.append(len(raw))
        out += raw
    return bytes(out)


def owner_factory(zone: ZoneInfo):  # type: ignore[no-untyped-def]
    """A function text owner → wire owner compressed against the apex at offset 12."""
    suffix = "." + zone.name
    cut = len(suffix)
    apex = zone.name
    zwire = zone.wire

    def owner(name: str) -> bytes:
        if name == apex:
            return b"\xc0\x0c"
        if name.endswith(suffix) and "\\" not in name:
            return _label_wire(name[:-cut]) + b"\xc0\x0c"
        full = dwire.name_wire(name)
        if full.endswith(zwire):
            return full[:len(full) - len(zwire)] + b"\xc0\x0c"
        return full
    return owner


class _Packer:
    """Groups RRs into bodies of at most MAX_BODY bytes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.count = 0

    def add(self, rr: bytes) -> tuple[int, bytes] | None:
        """Add one RR; returns the previous body when this RR did not fit into it."""
        out = None
        if self.size + len(rr) > MAX_BODY and self.count:
            out = (self.count, b"".join(self.parts))
            self.parts, self.size, self.count = [], 0, 0
        self.parts.append(rr)
        self.size += len(rr)
        self.count += 1
        return out

    def flush(self) -> tuple[int, bytes] | None:
        if not self.count:
            return None
        out = (self.count, b"".join(self.parts))
        self.parts, self.size, self.count = [], 0, 0
        return out


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One read-only consistent snapshot of the database.

    PostgreSQL: a single ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`` (asyncpg starts the
    transaction with the first statement, so this costs no extra round trip).
    """
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="REPEATABLE READ",
                                                 postgresql_readonly=True)
        async with conn.begin():
            yield conn


async def render_axfr(conn: AsyncConnection, zone: ZoneInfo) -> AsyncIterator[tuple[int, bytes]]:
    """Bodies of an AXFR of ``zone`` (SOA first and last), read within ``conn``'s snapshot.

    On PostgreSQL the database concatenates the RRs stored in ``records.axfr_rr`` (see
    :func:`_render_axfr_pg`); elsewhere, and for catalog zones, Python renders them.
    """
    if conn.dialect.name == "postgresql" and not zone.catalog:
        bodies = await _render_axfr_pg(conn, zone)
        if bodies is not None:
            for body in bodies:
                yield body
            return
    async for body in _render_axfr_py(conn, zone):
        yield body


async def _render_axfr_py(conn: AsyncConnection, zone: ZoneInfo,
                          only_missing: bool = False) -> AsyncIterator[tuple[int, bytes]]:
    """The AXFR bodies rendered in Python from ``(name, type, ttl, rdata)`` rows."""
    soa = soa_rr_compressed(zone)
    packer = _Packer()
    packer.add(soa)
    async for rr in _python_rrs(conn, zone, only_missing):
        full = packer.add(rr)
        if full is not None:
            yield full
    full = packer.add(soa)
    if full is not None:
        yield full
    last = packer.flush()
    if last is not None:
        yield last


async def _python_rrs(conn: AsyncConnection, zone: ZoneInfo,
                      only_missing: bool = False) -> AsyncIterator[bytes]:
    """The zone's RRs (SOA excluded), owners compressed against the apex, built in Python."""
    owner = owner_factory(zone)
    owners: dict[str, bytes] = {}
    codes: dict[str | int, int] = {}
    zttl = zone.ttl
    pack = _RRH.pack
    async for batch in stream_records(conn, zone, only_missing=only_missing):
        for name, rtype, ttl, rdata in batch:
            o = owners.get(name)
            if o is None:
                if len(owners) > 200_000:
                    owners.clear()
                o = owners[name] = owner(name)
            code = codes.get(rtype)
            if code is None:
                code = codes[rtype] = rtype if isinstance(rtype, int) else dwire.type_code(rtype)
            yield o + pack(code, 1, zttl if ttl is None else ttl, len(rdata)) + rdata


# One row: the stored AXFR RRs of every record of the zone concatenated (one table, no join),
# the length of each (same order: both aggregates consume the same input rows; the SOA's is
# empty and left out) and how many records have none stored (rendered in Python).
_PG_AXFR = sa.text("""
SELECT string_agg(axfr_rr, ''::bytea) AS blob,
       array_agg(length(axfr_rr)) FILTER (WHERE length(axfr_rr) > 0) AS lens,
       count(*) FILTER (WHERE axfr_rr IS NULL) AS missing
FROM records WHERE zone_id = :zid
""")


async def _render_axfr_pg(conn: AsyncConnection, zone: ZoneInfo) -> list[tuple[int, bytes]] | None:
    """The AXFR bodies from ``records.axfr_rr``, concatenated by PostgreSQL in one aggregate.

    Python only cuts the concatenation into bodies of at most ``MAX_BODY`` bytes (using the
    per-RR lengths) and adds the SOAs. Returns None when the query fails (e.g. a zone too
    large for one ``bytea``); the savepoint keeps the snapshot usable for the Python path.
    """
    try:
        async with conn.begin_nested():
            row = (await conn.execute(_PG_AXFR, {"zid": zone.id})).one()
    except sa.exc.DBAPIError:
        return None
    blob: bytes = row.blob or b""
    lens: list[int] = row.lens or []
    soa = soa_rr_compressed(zone)
    bodies: list[tuple[int, bytes]] = []
    # Greedy cut: each body takes as many whole RRs as fit (the first also holds the SOA);
    # found by bisecting the running byte offsets, so Python does not loop over the RRs.
    ends = list(accumulate(lens))
    total = len(ends)
    room = MAX_BODY - len(soa)
    i = pos = 0
    while i < total:
        j = bisect_right(ends, pos + room, i)
        if j == i:
            j = i + 1  # one RR larger than a message goes alone, as in the Python packer
        elif j == total:
            break  # the rest fits: it is the tail the remaining RRs and the SOA join
        end = ends[j - 1]
        bodies.append((j - i, blob[pos:end]))
        pos, i, room = end, j, MAX_BODY
    count = total - i
    tail: list[bytes] = [blob[pos:]] if count else []
    if bodies:
        bodies[0] = (bodies[0][0] + 1, soa + bodies[0][1])
    else:
        tail.insert(0, soa)
        count += 1
    packer = _Packer()
    packer.parts, packer.size, packer.count = tail, sum(map(len, tail)), count
    if row.missing:
        async for rr in _python_rrs(conn, zone, only_missing=True):
            full = packer.add(rr)
            if full is not None:
                bodies.append(full)
    full = packer.add(soa)
    if full is not None:
        bodies.append(full)
    last = packer.flush()
    if last is not None:
        bodies.append(last)
    return bodies


# --- IXFR -----------------------------------------------------------------------------------
@dataclass
class IxfrPlan:
    """What to answer an IXFR with: kind is "current", "incremental" or "axfr"."""

    kind: str
    zone: ZoneInfo
    bodies: list[tuple[int, bytes]] = field(default_factory=list)
    size: int = 0


# Longest journal chain condensed into one IXFR reply; longer ones are answered AXFR-style.
MAX_CHAIN = 100_000

# The journal chain from the client's serial to the current one, in one query: walked
# backwards from the current serial over the unique (zone_id, serial_to) index, stopping at
# the client's serial or at a change that cannot be expressed as a diff. Rows (oldest first)
# only when the walk reached the client's serial without crossing such a change.
_CHAIN = sa.text("""
WITH RECURSIVE chain(id, serial_from, incremental, depth) AS (
    SELECT id, serial_from, incremental, 1 FROM zone_changes
    WHERE zone_id = :zid AND serial_to = :cur
  UNION ALL
    SELECT c.id, c.serial_from, c.incremental, chain.depth + 1
    FROM chain JOIN zone_changes c ON c.zone_id = :zid AND c.serial_to = chain.serial_from
    WHERE chain.serial_from <> :client AND chain.incremental AND chain.depth < :maxdepth
)
SELECT c.serial_from, c.serial_to, c.removed, c.added
FROM chain JOIN zone_changes c ON c.id = chain.id
WHERE EXISTS (SELECT 1 FROM chain WHERE serial_from = :client)
  AND NOT EXISTS (SELECT 1 FROM chain WHERE NOT incremental)
ORDER BY chain.depth DESC
""")


async def plan_ixfr(conn: AsyncConnection, zone: ZoneInfo, client_serial: int,
                    cache: TransferCache | None = None, rows: list[Any] | None = None) -> IxfrPlan:
    """Decide the IXFR reply for ``client_serial`` and render it when incremental.

    ``zone`` is one state of the zone (serial and SOA read together); the chain is walked back
    from its serial, so ``conn`` needs no snapshot. At most one query (the journal chain);
    none when the decision for (zone, client serial, current serial) is in ``cache`` or the
    chain ``rows`` (read with the zone, :func:`mdns.acl.transfer_lookup`) are given.
    """
    if client_serial == zone.serial or serial_gt(client_serial, zone.serial):
        return IxfrPlan("current", zone)
    if zone.catalog:
        return IxfrPlan("axfr", zone)
    if cache is not None:
        hit = cache.get(zone.id, zone.serial, client_serial)
        if hit is not None:
            return IxfrPlan(hit.kind, zone, hit.bodies, hit.nbytes)
    plan = await _condense(conn, zone, client_serial, rows)
    if cache is not None:
        cache.put(zone.id, zone.serial, Rendered(plan.bodies, max(plan.size, 64),
                                                 sum(c for c, _ in plan.bodies), plan.kind),
                  client_serial)
    return plan


async def _condense(conn: AsyncConnection, zone: ZoneInfo, client_serial: int,
                    rows: list[Any] | None = None) -> IxfrPlan:
    """Read the journal chain (unless given) and condense it into one difference sequence."""
    if rows is None:
        rows = list((await conn.execute(_CHAIN, {"zid": zone.id, "cur": zone.serial,
                                                 "client": client_serial,
                                                 "maxdepth": MAX_CHAIN})).all())
    if not rows or rows[0].serial_from != client_serial or rows[-1].serial_to != zone.serial:
        return IxfrPlan("axfr", zone)
    serial = client_serial
    removed: dict[bytes, None] = {}
    added: dict[bytes, None] = {}
    old_soa = new_soa = b""
    for row in rows:
        if row.serial_from != serial:
            return IxfrPlan("axfr", zone)
        rem, add = iter_rrs(row.removed), iter_rrs(row.added)
        if not rem or not add or rem[0][1] != SOA or add[0][1] != SOA:
            return IxfrPlan("axfr", zone)
        if not old_soa:
            old_soa = rem[0][5]
        new_soa = add[0][5]
        for rr in rem[1:]:
            if rr[5] in added:
                del added[rr[5]]
            else:
                removed[rr[5]] = None
        for rr in add[1:]:
            if rr[5] in removed:
                del removed[rr[5]]
            else:
                added[rr[5]] = None
        serial = row.serial_to
    # The difference sequence must start at the client's serial and end at the served one
    # (a journal entry with a stale old SOA would make secondaries reject the transfer).
    if soa_serial(iter_rrs(old_soa)[0][4]) != client_serial or \
            soa_serial(iter_rrs(new_soa)[0][4]) != zone.serial:
        return IxfrPlan("axfr", zone)
    current = soa_rr_compressed(zone)
    packer = _Packer()
    bodies: list[tuple[int, bytes]] = []
    size = 0
    for rr in (current, old_soa, *removed, new_soa, *added, current):
        full = packer.add(rr)
        size += len(rr)
        if full is not None:
            bodies.append(full)
    last = packer.flush()
    if last is not None:
        bodies.append(last)
    return IxfrPlan("incremental", zone, bodies, size)


async def current_zone(conn: AsyncConnection, zone: ZoneInfo) -> ZoneInfo | None:
    """The zone as of ``conn``'s snapshot."""
    return await zone_by_id(conn, zone)
