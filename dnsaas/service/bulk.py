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
import os
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas import wire

BULK_MIN_ROWS = 2000
_YIELD_EVERY = 8192

_RS_COLUMNS = ("id", "zone_id", "project_id", "name", "type", "ttl", "description",
               "managed", "status", "action", "serial", "version", "created_at")
_REC_COLUMNS = ("id", "recordset_id", "zone_id", "data", "rdata", "axfr_rr", "managed", "status",
                "action", "serial", "version", "created_at")
_VARIANT = "89ab89ab89ab89ab"  # RFC 4122 variant nibble (10xx) for each random hex digit


def random_uuids(count: int) -> list[str]:
    """``count`` random version-4 UUIDs (hyphenated, lowercase), sorted.

    One ``os.urandom`` call for all of them: ~0.5 µs each instead of ~2 µs for ``uuid.uuid4()``.
    122 bits of each are random, as RFC 9562 §5.4 asks.
    """
    hexed = os.urandom(16 * count).hex()
    ids = [f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"
           for h in (hexed[i:i + 32] for i in range(0, 32 * count, 32))]
    ids.sort()
    return ids


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


async def insert_rrsets(conn: AsyncConnection, zone: Any, project: str,
                        rrsets: list[dict[str, Any]], now: datetime, serial: int) -> int:
    """Insert recordsets (``name``, ``type``, ``ttl``, ``records`` as (text, wire) pairs, and
    optionally ``managed``, ``description``, ``project_id``) with their records, in index order;
    sets each recordset's ``id``; returns the number of recordsets (the caller keeps
    ``zones.recordset_count``)."""
    pg = conn.dialect.name == "postgresql"
    created: Any = now if pg else _sqlite_value(now)
    yes, no = (True, False) if pg else (1, 0)
    ordered = sorted(rrsets, key=lambda rs: (rs["name"], rs["type"]))
    rs_ids = random_uuids(len(ordered))
    rec_ids = random_uuids(sum(len(rs["records"]) for rs in ordered))
    zone_id = zone.id
    rs_rows: list[tuple[Any, ...]] = []
    rec_rows: list[tuple[Any, ...]] = []
    add_rs, add_rec = rs_rows.append, rec_rows.append
    zname, zttl, axfr_head, axfr_rr = zone.name, zone.ttl, wire.axfr_head, wire.axfr_rr
    n = 0
    for rs_id, rs in zip(rs_ids, ordered, strict=True):
        managed = yes if rs.get("managed") else no
        ttl = rs.get("ttl")
        add_rs((rs_id, zone_id, rs.get("project_id") or project, rs["name"], rs["type"],
                ttl, rs.get("description"), managed, "PENDING", "CREATE", serial, 1, created))
        head = axfr_head(rs["name"], zname, rs["type"])
        ttl = zttl if ttl is None else ttl
        for text, rdata in rs["records"]:
            add_rec((rec_ids[n], rs_id, zone_id, text, rdata, axfr_rr(head, ttl, rdata), managed,
                     "PENDING", "CREATE", serial, 1, created))
            n += 1
        rs["id"] = rs_id
        if not len(rs_rows) % _YIELD_EVERY:
            await asyncio.sleep(0)  # let the event loop serve requests meanwhile
    await _insert_tuples(conn, "recordsets", _RS_COLUMNS, rs_rows)
    await _insert_tuples(conn, "records", _REC_COLUMNS, rec_rows)
    return len(rs_rows)
