"""Bulk row inserts on the driver connection of the current transaction: ``COPY`` on PostgreSQL
(asyncpg), ``executemany`` on SQLite. Used for large batches (zone imports: 100k recordsets and
records), where SQLAlchemy's per-row parameter processing costs more than the database work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

BULK_MIN_ROWS = 2000


def _sqlite_converter(sample: Any) -> Any:
    """What SQLAlchemy's SQLite dialect would store: datetimes as ISO text, bools as 0/1."""
    if isinstance(sample, datetime):
        cache: dict[datetime, str] = {}

        def fmt(value: Any) -> Any:
            if value is None:
                return None
            text = cache.get(value)
            if text is None:
                text = cache[value] = value.strftime("%Y-%m-%d %H:%M:%S.%f")
            return text
        return fmt
    if isinstance(sample, bool):
        return lambda value: None if value is None else int(value)
    return None


async def bulk_insert(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the open transaction."""
    if not rows:
        return
    columns = list(rows[0])
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if conn.dialect.name == "postgresql":
        records = [tuple(row[c] for c in columns) for row in rows]
        await driver.copy_records_to_table(table.name, records=records,  # type: ignore[union-attr]
                                           columns=columns)
        return
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    params = [tuple(row[c] for c in columns) for row in rows]
    converters = [(i, f) for i, c in enumerate(columns)
                  if (f := _sqlite_converter(rows[0][c])) is not None]
    if converters:
        fixed = []
        for values in params:
            row_values = list(values)
            for i, f in converters:
                row_values[i] = f(row_values[i])
            fixed.append(tuple(row_values))
        params = fixed
    await driver.executemany(sql, params)  # type: ignore[union-attr]
