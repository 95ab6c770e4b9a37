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
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dnsaas import wire as dwire
from dnsaas.storage import tables as t
from mdns.wireutil import iter_rrs, serial_gt
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


class TransferCache:
    """Rendered AXFRs keyed by (zone_id, serial), bounded in bytes, least recently used out."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[tuple[str, int], Rendered] = OrderedDict()

    def get(self, zone_id: str, serial: int) -> Rendered | None:
        item = self._items.get((zone_id, serial))
        if item is not None:
            self._items.move_to_end((zone_id, serial))
        return item

    def put(self, zone_id: str, serial: int, item: Rendered) -> None:
        if item.nbytes > self.max_bytes or (zone_id, serial) in self._items:
            return
        # An older serial of the same zone is useless from now on.
        for key in [k for k in self._items if k[0] == zone_id]:
            self.nbytes -= self._items.pop(key).nbytes
        self._items[(zone_id, serial)] = item
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
    """One read-only consistent snapshot of the database."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn
        else:
            async with conn.begin():
                yield conn


async def render_axfr(conn: AsyncConnection, zone: ZoneInfo) -> AsyncIterator[tuple[int, bytes]]:
    """Bodies of an AXFR of ``zone`` (SOA first and last), read within ``conn``'s snapshot."""
    soa = soa_rr_compressed(zone)
    owner = owner_factory(zone)
    owners: dict[str, bytes] = {}
    codes: dict[str | int, int] = {}
    zttl = zone.ttl
    pack = _RRH.pack
    packer = _Packer()
    parts = packer.parts
    packer.add(soa)
    limit = MAX_BODY
    async for batch in stream_records(conn, zone):
        for name, rtype, ttl, rdata in batch:
            o = owners.get(name)
            if o is None:
                if len(owners) > 200_000:
                    owners.clear()
                o = owners[name] = owner(name)
            code = codes.get(rtype)
            if code is None:
                code = codes[rtype] = rtype if isinstance(rtype, int) else dwire.type_code(rtype)
            rr = o + pack(code, 1, zttl if ttl is None else ttl, len(rdata)) + rdata
            if packer.size + len(rr) > limit:
                full = packer.add(rr)
                parts = packer.parts
                if full is not None:
                    yield full
            else:
                parts.append(rr)
                packer.size += len(rr)
                packer.count += 1
    full = packer.add(soa)
    if full is not None:
        yield full
    last = packer.flush()
    if last is not None:
        yield last


# --- IXFR -----------------------------------------------------------------------------------
@dataclass
class IxfrPlan:
    """What to answer an IXFR with: kind is "current", "incremental" or "axfr"."""

    kind: str
    zone: ZoneInfo
    bodies: list[tuple[int, bytes]] = field(default_factory=list)
    size: int = 0


async def plan_ixfr(conn: AsyncConnection, zone: ZoneInfo, client_serial: int) -> IxfrPlan:
    """Decide the IXFR reply for ``client_serial`` and render it when incremental."""
    if client_serial == zone.serial or serial_gt(client_serial, zone.serial):
        return IxfrPlan("current", zone)
    if zone.catalog:
        return IxfrPlan("axfr", zone)
    zc = t.zone_changes
    start = (await conn.execute(
        sa.select(zc.c.id).where(zc.c.zone_id == zone.id, zc.c.serial_from == client_serial)
        .order_by(zc.c.id.desc()).limit(1))).scalar_one_or_none()
    if start is None:
        return IxfrPlan("axfr", zone)
    rows = (await conn.execute(
        sa.select(zc.c.serial_from, zc.c.serial_to, zc.c.removed, zc.c.added, zc.c.incremental)
        .where(zc.c.zone_id == zone.id, zc.c.id >= start).order_by(zc.c.id))).all()
    serial = client_serial
    removed: dict[bytes, None] = {}
    added: dict[bytes, None] = {}
    old_soa = new_soa = b""
    for row in rows:
        if not row.incremental or row.serial_from != serial:
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
    if serial != zone.serial:
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
