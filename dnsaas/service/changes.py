"""What every zone mutation does inside its transaction (design.md invariants 1, 2 and 4):
raise the serial, rewrite the SOA, append the change to the journal and upsert the zone's
single pending propagation job."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas import wire
from dnsaas.names import email_to_rname
from dnsaas.storage import tables as t

JOBS_CHANNEL = "dnsaas_jobs"


def utcnow() -> datetime:
    """Naive UTC now, the form every timestamp column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


def next_serial(old: int, now: float | None = None) -> int:
    """The serial after ``old``: max(old + 1, Unix time), in RFC 1982 space."""
    candidate = int(now if now is not None else time.time())
    bumped = (old + 1) & 0xFFFFFFFF
    # RFC 1982: the clock only wins when it is ahead of old + 1 by less than 2^31.
    ahead = (candidate - old) & 0xFFFFFFFF
    return candidate if 1 < ahead < 2**31 else bumped


def effective_ttl(rs_ttl: int | None, zone_ttl: int) -> int:
    return zone_ttl if rs_ttl is None else rs_ttl


async def lock_zone(conn: AsyncConnection, zone_id: str) -> sa.Row[Any] | None:
    """The live zone row, locked for the rest of the transaction (SQLite: the whole DB is)."""
    q = sa.select(t.zones).where(t.zones.c.id == zone_id, t.zones.c.deleted_at.is_(None))
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return (await conn.execute(q)).first()


async def soa_mname(conn: AsyncConnection, pool_id: str) -> str:
    """The pool's first ns_record by creation (Designate's SOA mname rule)."""
    row = (await conn.execute(
        sa.select(t.pool_ns_records.c.hostname).where(t.pool_ns_records.c.pool_id == pool_id)
        .order_by(t.pool_ns_records.c.created_at, t.pool_ns_records.c.priority).limit(1)
    )).first()
    return row.hostname if row else "invalid."


def soa_for(zone: Any, serial: int, mname: str) -> tuple[str, bytes]:
    """Text and wire rdata of the zone's SOA at ``serial``."""
    return wire.soa_rdata(mname, email_to_rname(zone.email), serial, zone.refresh, zone.retry,
                          zone.expire, zone.minimum)


def _mname_subquery(pool_id: Any) -> sa.ScalarSelect[Any]:
    return (sa.select(t.pool_ns_records.c.hostname).where(t.pool_ns_records.c.pool_id == pool_id)
            .order_by(t.pool_ns_records.c.created_at, t.pool_ns_records.c.priority).limit(1)
            .scalar_subquery())


_SOA_ROW = (
    sa.select(t.records.c.id, t.records.c.rdata,
              _mname_subquery(sa.bindparam("b_pool_id", type_=t.zones.c.pool_id.type))
              .label("mname"))
    .join(t.recordsets, t.records.c.recordset_id == t.recordsets.c.id)
    .where(t.recordsets.c.zone_id == sa.bindparam("b_zone_id", type_=t.zones.c.id.type),
           t.recordsets.c.name == sa.bindparam("b_name", type_=t.zones.c.name.type),
           t.recordsets.c.type == "SOA"))
_WRITE_SOA = t.records.update().where(
    t.records.c.id == sa.bindparam("b_id", type_=t.records.c.id.type)).values(
    data=sa.bindparam("b_data", type_=t.records.c.data.type),
    rdata=sa.bindparam("b_rdata", type_=t.records.c.rdata.type),
    serial=sa.bindparam("b_serial", type_=t.records.c.serial.type),
    updated_at=sa.bindparam("b_now", type_=t.records.c.updated_at.type))
_JOURNAL = t.zone_changes.insert().values(
    {c: sa.bindparam(f"b_{c}", type_=t.zone_changes.c[c].type)
     for c in ("zone_id", "serial_from", "serial_to", "removed", "added", "removed_count",
               "added_count", "incremental", "created_at")})


def _bump_stmt(with_action: bool) -> Any:
    values: dict[str, Any] = {
        "serial": sa.bindparam("b_serial", type_=t.zones.c.serial.type), "status": "PENDING",
        "updated_at": sa.bindparam("b_now", type_=t.zones.c.updated_at.type),
        "version": sa.bindparam("b_version", type_=t.zones.c.version.type)}
    if with_action:
        values["action"] = "UPDATE"
    return t.zones.update().where(
        t.zones.c.id == sa.bindparam("b_zone_id", type_=t.zones.c.id.type)).values(values)


_BUMP = {False: _bump_stmt(False), True: _bump_stmt(True)}


async def _soa_row(conn: AsyncConnection, zone: Any) -> Any:
    """The zone's SOA record (id, rdata) and the pool's current SOA mname, in one query."""
    return (await conn.execute(_SOA_ROW, {"b_pool_id": zone.pool_id, "b_zone_id": zone.id,
                                          "b_name": zone.name})).first()


async def soa_rr(conn: AsyncConnection, zone: Any) -> bytes:
    """The zone's current SOA as one wire RR, read from its stored record."""
    row = await _soa_row(conn, zone)
    if row is None:
        return b""
    return wire.rr(wire.name_wire(zone.name), 6, zone.ttl, row.rdata)


async def write_soa(conn: AsyncConnection, zone: Any, serial: int, soa: Any = None) -> bytes:
    """Rewrite the zone's SOA record for ``serial``; returns the new SOA as a wire RR."""
    soa = soa if soa is not None else await _soa_row(conn, zone)
    mname = (soa.mname if soa is not None else None) or await soa_mname(conn, zone.pool_id)
    text, rdata = soa_for(zone, serial, mname)
    if soa is not None:
        await conn.execute(_WRITE_SOA, {"b_id": soa.id, "b_data": text, "b_rdata": rdata,
                                        "b_serial": serial, "b_now": utcnow()})
    return wire.rr(wire.name_wire(zone.name), 6, zone.ttl, rdata)


async def commit_change(
    conn: AsyncConnection,
    zone: Any,
    removed: list[bytes],
    added: list[bytes],
    *,
    incremental: bool = True,
    zone_values: dict[str, Any] | None = None,
    retention: int = 1000,
    serial: int | None = None,
) -> int:
    """Bump the serial of a locked ``zone`` and record the change; returns the new serial.

    ``removed``/``added`` are wire RRs (excluding the SOA). ``zone_values`` are further column
    updates of the zone row (applied before the SOA is rebuilt, so email or TTL changes reach
    the SOA in the same transaction).
    """
    now = utcnow()
    soa = await _soa_row(conn, zone)
    old_soa = wire.rr(wire.name_wire(zone.name), 6, zone.ttl, soa.rdata) if soa else b""
    serial = next_serial(zone.serial) if serial is None else serial
    values: dict[str, Any] = dict(zone_values or {})
    values.update(serial=serial, status="PENDING", updated_at=now, version=zone.version + 1)
    with_action = zone.action not in ("CREATE", "DELETE") or zone.status != "PENDING"
    if with_action:
        values["action"] = "UPDATE"
    if zone_values:
        await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(**values))
    else:  # the usual case: one statement built at import time
        await conn.execute(_BUMP[with_action], {"b_zone_id": zone.id, "b_serial": serial,
                                                "b_now": now, "b_version": zone.version + 1})
    merged = _Merged(zone, values)
    new_soa = await write_soa(conn, merged, serial, soa)
    await conn.execute(_JOURNAL, {
        "b_zone_id": zone.id, "b_serial_from": zone.serial, "b_serial_to": serial,
        "b_removed": old_soa + b"".join(removed), "b_added": new_soa + b"".join(added),
        "b_removed_count": len(removed), "b_added_count": len(added),
        "b_incremental": incremental, "b_created_at": now})
    if serial % 16 == 0:
        await prune_journal(conn, zone.id, retention)
    await upsert_job(conn, zone.id, "propagate", serial)
    return serial


class _Merged:
    """A zone row with pending updates applied (attribute access only)."""

    def __init__(self, row: Any, values: dict[str, Any]):
        self._row, self._values = row, values

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return getattr(self._row, name)


async def prune_journal(conn: AsyncConnection, zone_id: str, keep: int) -> None:
    """Keep only the newest ``keep`` journal entries of a zone."""
    cutoff = (await conn.execute(
        sa.select(t.zone_changes.c.id).where(t.zone_changes.c.zone_id == zone_id)
        .order_by(t.zone_changes.c.id.desc()).offset(keep).limit(1))).scalar_one_or_none()
    if cutoff is not None:
        await conn.execute(t.zone_changes.delete().where(
            t.zone_changes.c.zone_id == zone_id, t.zone_changes.c.id <= cutoff))


def _build_upsert_job(dialect: str) -> Any:
    """The job upsert for ``dialect``, built once: every call only binds values."""
    ins_mod = postgresql if dialect == "postgresql" else sqlite
    now = sa.bindparam("b_now", type_=t.jobs.c.created_at.type)
    stmt = ins_mod.insert(t.jobs).values(
        id=sa.bindparam("b_id", type_=t.jobs.c.id.type),
        zone_id=sa.bindparam("b_zone_id", type_=t.jobs.c.zone_id.type),
        kind=sa.bindparam("b_kind", type_=t.jobs.c.kind.type), state="pending",
        target_serial=sa.bindparam("b_target", type_=t.jobs.c.target_serial.type),
        attempts=0, run_after=sa.bindparam("b_run_after", type_=t.jobs.c.run_after.type),
        payload=sa.bindparam("b_payload", type_=t.jobs.c.payload.type), created_at=now)
    excluded = stmt.excluded
    greatest = sa.func.greatest if dialect == "postgresql" else sa.func.max
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.jobs.c.zone_id, t.jobs.c.kind],
        set_={
            "target_serial": greatest(t.jobs.c.target_serial, excluded.target_serial),
            "state": sa.case((t.jobs.c.state == "running", "running"), else_="pending"),
            "attempts": 0,
            # A pending job that is already due stays due from when it was: ``run_after`` is
            # in ix_jobs_ready, and leaving it (and ``state``) unchanged lets PostgreSQL update
            # the row HOT, without new index entries. A job backing off (due later), one that
            # is running, done or failed, and a delayed upsert take the new time as before.
            "run_after": sa.case(
                (sa.and_(t.jobs.c.state == "pending", t.jobs.c.run_after <= excluded.run_after,
                         excluded.run_after <= excluded.created_at), t.jobs.c.run_after),
                else_=excluded.run_after),
            "payload": excluded.payload,
            "last_error": None,
            "updated_at": now,
        },
    )
    if dialect == "postgresql":  # wake the workers at commit, in the same round trip
        stmt = stmt.returning(sa.func.pg_notify(JOBS_CHANNEL, t.jobs.c.zone_id))
    return stmt


_UPSERT_JOB = {d: _build_upsert_job(d) for d in ("postgresql", "sqlite")}


async def upsert_job(conn: AsyncConnection, zone_id: str, kind: str, target_serial: int,
                     payload: dict[str, Any] | None = None, delay: float = 0.0) -> None:
    """Create or move forward the zone's one job of ``kind`` (coalescing bursts)."""
    now = utcnow()
    stmt = _UPSERT_JOB["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    await conn.execute(stmt, {
        "b_id": new_id(), "b_zone_id": zone_id, "b_kind": kind, "b_target": target_serial,
        "b_run_after": now + timedelta(seconds=delay), "b_payload": payload or {}, "b_now": now})
