"""Bulk row inserts on the driver connection of the current transaction: ``COPY`` on PostgreSQL
(asyncpg, binary format), ``executemany`` on SQLite. Used for large batches (zone imports: 100k
recordsets and records), where SQLAlchemy's per-row parameter processing costs more than the
database work.

:func:`insert_rrsets` builds the rows as tuples and inserts them in index order: the random
(v4) ids are generated in one go and sorted, recordsets are written sorted by (name, type) with
ascending ids and records grouped by recordset, so every index of both tables grows at its right
edge instead of at random places. On SQLite that is 3x less CPU and no cache spill to disk for
100k rows; on PostgreSQL it saves about a third of the server's time.
"""

from __future__ import annotations

import asyncio
import contextvars
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas import wire
from dnsaas.rowprep import CHUNK_ROWS, PreparedRows, random_uuids
from dnsaas.storage.records_data import set_written

BULK_MIN_ROWS = 2000
__all__ = ["BULK_MIN_ROWS", "CHUNK_ROWS", "PreparedRows", "random_uuids"]

# ``records_data`` (PostgreSQL, not for SOA recordsets) is written with the recordset: its
# records get ascending ids, so their data in row order is the array the trigger would make
# (dnsaas/storage/records_data.py), which then finds nothing to rewrite.
_RS_COLUMNS = ("id", "zone_id", "project_id", "name", "type", "ttl", "description",
               "managed", "status", "action", "serial", "version", "created_at", "records_data")
_REC_COLUMNS = ("id", "recordset_id", "zone_id", "data", "rdata", "axfr_rr", "managed", "status",
                "action", "serial", "version", "created_at")


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy's SQLite dialect would store: datetimes as ISO text, bools as 0/1."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


async def _insert_tuples(conn: AsyncConnection, table: str, columns: tuple[str, ...],
                         rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order, SQLite-ready) in the open transaction."""
    if not rows:
        return
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if conn.dialect.name == "postgresql":
        await driver.copy_records_to_table(table, records=rows,  # type: ignore[union-attr]
                                           columns=list(columns))
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    await driver.executemany(sql, rows)  # type: ignore[union-attr]


async def bulk_insert(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the open transaction."""
    if not rows:
        return
    columns = tuple(rows[0])
    if conn.dialect.name == "postgresql":
        tuples = [tuple(row[c] for c in columns) for row in rows]
    else:
        tuples = [tuple(_sqlite_value(row[c]) for c in columns) for row in rows]
    await _insert_tuples(conn, table.name, columns, tuples)


@asynccontextmanager
async def _records_data_written(conn: AsyncConnection, pg: bool) -> AsyncIterator[None]:
    """Within the block, the recordsets inserted carry their ``records_data`` (PostgreSQL):
    the records' insert trigger skips its check (dnsaas/storage/records_data.py)."""
    if not pg:
        yield
        return
    await conn.exec_driver_sql(set_written(True))
    yield
    await conn.exec_driver_sql(set_written(False))


ChunkHook = Callable[[int, int], Awaitable[None]]
#: Called after each chunk of :func:`insert_rrsets` with (rows written, rows in all) on
#: PostgreSQL (zone imports report progress with it; on SQLite the single writer is busy).
ON_CHUNK: contextvars.ContextVar[ChunkHook | None] = contextvars.ContextVar("bulk_on_chunk",
                                                                            default=None)


def _build_rows(zone: Any, project: str, rrsets: list[dict[str, Any]], created: Any,
                pg: bool, serial: int) -> list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """The recordset and record rows, in index order, cut into chunks of about
    :data:`CHUNK_ROWS` rows (a recordset's records stay in its chunk); sets each ``rs["id"]``.
    Pure CPU work: :func:`insert_rrsets` runs it in a thread, off the event loop."""
    yes, no = (True, False) if pg else (1, 0)
    ordered = sorted(rrsets, key=lambda rs: (rs["name"], rs["type"]))
    rs_ids = random_uuids(len(ordered))
    rec_ids = random_uuids(sum(len(rs["records"]) for rs in ordered))
    chunks: list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = []
    rs_rows: list[tuple[Any, ...]] = []
    rec_rows: list[tuple[Any, ...]] = []
    zone_id, zname, zttl, axfr_head, axfr_rr = zone.id, zone.name, zone.ttl, wire.axfr_head, \
        wire.axfr_rr
    n = 0
    for rs_id, rs in zip(rs_ids, ordered, strict=True):
        managed = yes if rs.get("managed") else no
        ttl = rs.get("ttl")
        kept = [text for text, _ in rs["records"]] if pg and rs["type"] != "SOA" else None
        rs_rows.append((rs_id, zone_id, rs.get("project_id") or project, rs["name"], rs["type"],
                        ttl, rs.get("description"), managed, "PENDING", "CREATE", serial, 1,
                        created, kept))
        head = axfr_head(rs["name"], zname, rs["type"])
        ttl = zttl if ttl is None else ttl
        for text, rdata in rs["records"]:
            rec_rows.append((rec_ids[n], rs_id, zone_id, text, rdata, axfr_rr(head, ttl, rdata),
                             managed, "PENDING", "CREATE", serial, 1, created))
            n += 1
        rs["id"] = rs_id
        if len(rs_rows) + len(rec_rows) >= CHUNK_ROWS:
            chunks.append((rs_rows, rec_rows))
            rs_rows, rec_rows = [], []
    if rs_rows:
        chunks.append((rs_rows, rec_rows))
    return chunks


async def insert_rrsets(conn: AsyncConnection, zone: Any, project: str,
                        rrsets: list[dict[str, Any]], now: datetime, serial: int) -> int:
    """Insert recordsets (``name``, ``type``, ``ttl``, ``records`` as (text, wire) pairs, and
    optionally ``managed``, ``description``, ``project_id``) with their records, in index order;
    sets each recordset's ``id``; returns the number of recordsets (the caller keeps
    ``zones.recordset_count``).

    The rows are built in a thread and written in chunks (one ``COPY`` or ``executemany`` each,
    recordsets before their records), so that the event loop keeps serving other requests: a
    100k-record import never holds it for more than a chunk's encoding."""
    pg = conn.dialect.name == "postgresql"
    created: Any = now if pg else _sqlite_value(now)
    chunks = await asyncio.to_thread(_build_rows, zone, project, rrsets, created, pg, serial)
    total = sum(len(a) + len(b) for a, b in chunks)
    hook = ON_CHUNK.get() if pg else None
    done = counted = 0
    async with _records_data_written(conn, pg):
        for rs_rows, rec_rows in chunks:
            await _insert_tuples(conn, "recordsets", _RS_COLUMNS, rs_rows)
            await _insert_tuples(conn, "records", _REC_COLUMNS, rec_rows)
            counted += len(rs_rows)
            done += len(rs_rows) + len(rec_rows)
            if hook is not None:
                await hook(done, total)
            await asyncio.sleep(0)  # the driver may not have yielded at all (writes buffered)
    return counted


async def insert_prepared(conn: AsyncConnection, zone: Any, project: str, rows: PreparedRows,
                          now: datetime, serial: int) -> int:
    """Insert :class:`PreparedRows` (unmanaged recordsets of ``project``) chunk by chunk;
    returns the number of recordsets.

    Pipelined: while the database works on one chunk, the next is loaded and made into rows
    here (two cores busy, as with one long ``COPY`` stream), and the event loop serves other
    requests in between. Progress reports (PostgreSQL) run beside the writes."""
    pg = conn.dialect.name == "postgresql"
    created: Any = now if pg else _sqlite_value(now)
    no = False if pg else 0
    zone_id = zone.id
    if (zone.name, zone.ttl) != (rows.zone, rows.zone_ttl):  # axfr_rr was made for those
        raise ValueError(f"rows prepared for {rows.zone} (TTL {rows.zone_ttl}), not {zone.name}")
    total = rows.rrsets + rows.records
    hook = ON_CHUNK.get() if pg else None
    reports: list[asyncio.Task[None]] = []

    async def write(rs_rows: list[tuple[Any, ...]], rec_rows: list[tuple[Any, ...]],
                    done: int) -> None:
        await _insert_tuples(conn, "recordsets", _RS_COLUMNS, rs_rows)
        await _insert_tuples(conn, "records", _REC_COLUMNS, rec_rows)
        if hook is not None and (not reports or reports[-1].done()):
            reports.append(asyncio.create_task(hook(done, total)))

    writing: asyncio.Task[None] | None = None
    done = 0
    async with _records_data_written(conn, pg):
        try:
            for chunk in rows.chunks:
                rs_part, rec_part = pickle.loads(chunk)
                data: dict[str, list[str]] = {}
                if pg:
                    for _i, rs_id, text, _rdata, _rr in rec_part:
                        data.setdefault(rs_id, []).append(text)
                rs_rows = [(i, zone_id, project, name, rtype, ttl, None, no, "PENDING", "CREATE",
                            serial, 1, created, None if rtype == "SOA" else data.get(i))
                           for i, name, rtype, ttl in rs_part]
                rec_rows = [(i, rs_id, zone_id, text, rdata, rr, no, "PENDING", "CREATE", serial, 1,
                             created) for i, rs_id, text, rdata, rr in rec_part]
                done += len(rs_rows) + len(rec_rows)
                if writing is not None:
                    await writing
                writing = asyncio.create_task(write(rs_rows, rec_rows, done))
                await asyncio.sleep(0)  # the write encodes and sends; the next chunk meanwhile
            if writing is not None:
                await writing
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
            await asyncio.gather(*reports, return_exceptions=True)
    return rows.rrsets
