"""Lists: filters with ``*`` wildcards, one sort key, marker pagination and exact counts.

Every page is an index range scan: the marker row's sort value and id become a keyset
condition, never an OFFSET.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.errors import (
    BadRequest,
    InvalidLimit,
    InvalidMarker,
    InvalidSortDir,
    InvalidSortKey,
    MarkerNotFound,
)


@dataclass(frozen=True, slots=True)
class ListParams:
    """What the caller asked for: filters, sort, marker, limit."""

    filters: dict[str, str] = field(default_factory=dict)
    sort_key: str = "created_at"
    sort_dir: str = "asc"
    marker: str | None = None
    limit: int = 20
    count: bool = True


@dataclass(slots=True)
class Page:
    """One page of results and, when asked for, the total count of matches."""

    items: list[dict[str, Any]]
    total: int | None
    limit: int

    @property
    def has_more(self) -> bool:
        return len(self.items) >= self.limit


def parse_limit(value: str | None, default: int, maximum: int) -> int:
    """``limit`` query value → int; ``max`` means the maximum; bad or too large → 400."""
    if value is None:
        return default
    if value == "max":
        return maximum
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise InvalidLimit() from None
    if limit <= 0 or limit > maximum:
        raise InvalidLimit(f"limit must be an integer between 1 and {maximum}, or 'max'")
    return limit


def check_sort(sort_key: str | None, sort_dir: str | None, allowed: frozenset[str]) -> tuple[str, str]:
    """Validate ``sort_key`` against a whitelist and ``sort_dir`` against asc/desc."""
    key = sort_key or "created_at"
    direction = (sort_dir or "asc").lower()
    if key not in allowed:
        raise InvalidSortKey(f"sort key must be one of {sorted(allowed)}")
    if direction not in ("asc", "desc"):
        raise InvalidSortDir()
    return key, direction


def like_or_equal(column: sa.ColumnElement[Any], value: str) -> sa.ColumnElement[bool]:
    """Exact match, or a LIKE when the value contains ``*``."""
    if "*" not in value:
        return column == value
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped.replace("*", "%"), escape="\\")


def int_filter(column: sa.ColumnElement[Any], name: str, value: str) -> sa.ColumnElement[bool]:
    """Equality on an integer column; a non-integer value is a 400."""
    try:
        return column == int(value)
    except ValueError:
        raise BadRequest(f"Invalid filter value for {name}: {value!r}") from None


async def fetch_page(
    conn: AsyncConnection,
    select: sa.Select[Any],
    table: sa.Table,
    where: list[sa.ColumnElement[bool]],
    params: ListParams,
    sort_columns: dict[str, sa.ColumnElement[Any]] | None = None,
    known_total: int | None = None,
) -> tuple[list[sa.Row[Any]], int | None]:
    """Rows of one page of ``select`` (already joined as needed) and the total count
    (``known_total`` when the caller already knows it exactly)."""
    sort_columns = sort_columns or {}
    # Not .get(key, table.c[key]): the default would be evaluated (KeyError) for mapped keys.
    sort_col = (sort_columns[params.sort_key] if params.sort_key in sort_columns
                else table.c[params.sort_key])
    id_col = table.c.id
    page_where = list(where)
    if params.marker is not None:
        try:
            uuid.UUID(params.marker)
        except ValueError:
            raise InvalidMarker() from None
        marker_row = (await conn.execute(
            sa.select(sort_col.label("v"), id_col).where(id_col == params.marker)
        )).first()
        if marker_row is None:
            raise MarkerNotFound(f"Marker {params.marker} could not be found")
        page_where.append(_after(sort_col, id_col, marker_row.v, params.marker, params.sort_dir))
    nullable = bool(getattr(sort_col, "nullable", False))
    if params.sort_dir == "asc":  # PostgreSQL's btree order: ASC NULLS LAST, DESC NULLS FIRST
        order = [sort_col.asc().nulls_last() if nullable else sort_col.asc(), id_col.asc()]
    else:
        order = [sort_col.desc().nulls_first() if nullable else sort_col.desc(), id_col.desc()]
    rows = (await conn.execute(select.where(*page_where).order_by(*order).limit(params.limit))).all()
    total = None
    if params.count and known_total is not None:
        total = known_total
    elif params.count:
        # Count ids only (same joins): an index-only scan, no per-row subqueries of the page.
        counted = select.with_only_columns(id_col, maintain_column_froms=True)
        count_q = sa.select(sa.func.count()).select_from(
            counted.where(*where).order_by(None).subquery())
        total = (await conn.execute(count_q)).scalar_one()
    return list(rows), total


def _after(col: sa.ColumnElement[Any], id_col: sa.ColumnElement[Any], value: Any, marker: str,
           direction: str) -> sa.ColumnElement[bool]:
    """Keyset condition: rows strictly after (value, marker) in the page order.

    Row-value comparisons, so that the (scope, sort column, id) index gives a range scan;
    NULLs sort last ascending and first descending.
    """
    after = sa.tuple_(col, id_col) > sa.tuple_(sa.literal(value), sa.literal(marker))
    before = sa.tuple_(col, id_col) < sa.tuple_(sa.literal(value), sa.literal(marker))
    if direction == "asc":
        if value is None:
            return sa.and_(col.is_(None), id_col > marker)
        return sa.or_(after, col.is_(None)) if getattr(col, "nullable", False) else after
    if value is None:
        return sa.or_(col.is_not(None), sa.and_(col.is_(None), id_col < marker))
    return before
