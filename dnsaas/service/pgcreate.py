"""Recordset creates on PostgreSQL (the API's most frequent write): one validation read and one
data-modifying statement per create, and in ``dnsaas api`` a per-process batcher that writes the
creates of many clients together. Semantics are those of ``RecordsetService``'s SQLAlchemy path
(tests/dnsaas/test_service_hot_paths.py compares them), which SQLite and the cases left out here
(no SOA record) use.

* A recordset create is validated from one read (the zone row, the names and types at the
  owner name, nearby zones, quotas, the SOA record and the pool's SOA mname) and written by
  ONE statement: a data-modifying CTE that raises the serial, inserts the recordset (with its
  ``records_data``, so the records' insert trigger is told to skip its check) and its
  records, rewrites the SOA, appends the journal entry and upserts the propagation job (with
  its ``pg_notify``). A single statement is a transaction of its own, and it takes the zone
  row lock in its first sub-statement, so the lock is held for that one statement only. The
  zone UPDATE is guarded by the version and serial that were read: every change of the zone's
  recordsets or serial raises ``zones.version``, so a matching row means the validation still
  holds and ``max(old + 1, now)`` is computed from the current serial. When the guard fails
  (another write won), the create is redone in a transaction that reads with ``FOR UPDATE``.
  Every 16th serial the same statement also prunes the zone's journal.
* In a process that keeps connections (``dnsaas api``), validated creates are written by a
  per-process batcher (:class:`_CreateBatcher`): while one write runs, the creates validated
  meanwhile wait and go together, one per zone, as the next write (CREATE_WRITE_MANY, the same
  CTE over arrays, after locking the zone rows in id order). One transaction for many creates
  costs PostgreSQL about 40% less per create at 32 clients; a lone create is written at once.
* The rows a create updates (the zone, its SOA record, its job) change no indexed column in the
  usual case, so PostgreSQL updates them HOT (no new index entries;
  tests/dnsaas/test_create_statements.py): the job's ``run_after`` stays when the job is
  already pending and due.
* The statements run on generic plans, built once per connection, often while the tables are
  still small: each lookup is written so that its index is the cheapest whatever the
  statistics (``others`` is ordered by ``type``, which only the (zone_id, name, type) index
  returns presorted; without it a plan may scan all of the zone's recordsets).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from dnsaas import wire
from dnsaas.context import Context
from dnsaas.errors import (
    DuplicateRecordSet,
    InvalidRecordSetLocation,
    OverQuota,
    ZoneNotFound,
)
from dnsaas.names import in_zone, is_subdomain, parent_names
from dnsaas.service import changes
from dnsaas.service.base import iso
from dnsaas.service.pgfast import VISIBLE, Rec, driver, keeps, visibility
from dnsaas.storage import records_data
from dnsaas.storage.db import with_retries

if TYPE_CHECKING:
    from dnsaas.records import ParsedRecord
    from dnsaas.service.recordsets import RecordsetService

CREATE_READ = f"""
SELECT z.id, z.project_id, z.pool_id, z.name, z.email, z.ttl, z.refresh, z.retry, z.expire,
       z.minimum, z.serial, z.type, z.status, z.action, z.version, z.recordset_count,
       ARRAY(SELECT o.type FROM recordsets o WHERE o.zone_id = z.id AND o.name = $5::text
             ORDER BY o.type) AS others,
       ARRAY(SELECT c.name FROM zones c WHERE c.name = ANY($6::text[]) AND c.deleted_at IS NULL)
         AS nearby,
       ARRAY(SELECT q.resource FROM quotas q WHERE q.project_id = z.project_id
             ORDER BY q.resource) AS quota_resources,
       ARRAY(SELECT q.hard_limit FROM quotas q WHERE q.project_id = z.project_id
             ORDER BY q.resource) AS quota_limits,
       soa.id AS soa_id, soa.rdata AS soa_rdata,
       (SELECT n.hostname FROM pool_ns_records n WHERE n.pool_id = z.pool_id
        ORDER BY n.created_at, n.priority LIMIT 1) AS mname
FROM zones z
LEFT JOIN LATERAL (SELECT rec.id, rec.rdata FROM records rec
                   JOIN recordsets s ON rec.recordset_id = s.id
                   WHERE s.zone_id = z.id AND s.name = z.name AND s.type = 'SOA' LIMIT 1) soa
  ON true
WHERE z.id = $1::text AND {VISIBLE}"""

LOCK_ZONE = "SELECT 1 FROM zones WHERE id = $1::text FOR UPDATE"

ZONE_RECORDS_COUNT = ("SELECT count(*) FROM (SELECT 1 FROM records WHERE zone_id = $1::text "
                      "AND managed IS false LIMIT $2::int) bounded")

# How a create's propagation job joins the zone's job (one per zone): the newest target serial,
# pending again unless running, and a pending job that is already due keeps its ``run_after``
# (the row is then updated HOT); the ``pg_notify`` wakes the workers.
JOB_UPSERT = """ON CONFLICT (zone_id, kind) DO UPDATE SET
    target_serial = GREATEST(jobs.target_serial, excluded.target_serial),
    state = CASE WHEN jobs.state = 'running' THEN 'running' ELSE 'pending' END,
    attempts = 0,
    run_after = CASE WHEN jobs.state = 'pending' AND jobs.run_after <= excluded.run_after
                     THEN jobs.run_after ELSE excluded.run_after END,
    payload = excluded.payload,
    last_error = NULL, updated_at = excluded.created_at
  RETURNING pg_notify('""" + changes.JOBS_CHANNEL + """', jobs.zone_id)"""

CREATE_WRITE = """
WITH z AS (
  UPDATE zones SET serial = $4::bigint, status = 'PENDING', updated_at = $5::timestamp,
         version = version + 1, recordset_count = recordset_count + 1,
         action = CASE WHEN action IN ('CREATE', 'DELETE') AND status = 'PENDING' THEN action
                       ELSE 'UPDATE' END
   WHERE id = $1::text AND version = $2::int AND serial = $3::bigint AND deleted_at IS NULL
  RETURNING id
), rs AS (
  INSERT INTO recordsets (id, zone_id, project_id, name, type, ttl, description,
                          managed, status, action, serial, version, created_at, records_data)
  SELECT $6::text, z.id, $7::text, $8::text, $9::text, $10::int, $12::text, false,
         'PENDING', 'CREATE', $4::bigint, 1, $5::timestamp,
         ARRAY(SELECT u.data FROM unnest($13::text[], $14::text[]) AS u(id, data)
               ORDER BY u.id) FROM z
  RETURNING id
), rec AS (
  INSERT INTO records (id, recordset_id, zone_id, data, rdata, axfr_rr, managed, status, action,
                       serial, version, created_at)
  SELECT u.id, rs.id, $1::text, u.data, u.rdata, u.axfr_rr, false, 'PENDING', 'CREATE',
         $4::bigint, 1, $5::timestamp
    FROM rs, unnest($13::text[], $14::text[], $15::bytea[], $11::bytea[])
         AS u(id, data, rdata, axfr_rr)
  RETURNING 1
), soa AS (
  UPDATE records SET data = $17::text, rdata = $18::bytea, serial = $4::bigint,
         updated_at = $5::timestamp
   WHERE id = $16::text AND EXISTS (SELECT 1 FROM z)
  RETURNING 1
), ch AS (
  INSERT INTO zone_changes (zone_id, serial_from, serial_to, removed, added, removed_count,
                            added_count, incremental, created_at)
  SELECT z.id, $3::bigint, $4::bigint, $19::bytea, $20::bytea, 0, $21::int, true,
         $5::timestamp FROM z
  RETURNING 1
), job AS (
  INSERT INTO jobs (id, zone_id, kind, state, target_serial, attempts, run_after, payload,
                    created_at)
  SELECT $22::text, z.id, 'propagate', 'pending', $4::bigint, 0, $5::timestamp, '{}'::json,
         $5::timestamp FROM z
  """ + JOB_UPSERT + """
), pruned AS (
  DELETE FROM zone_changes
   WHERE $23::boolean AND zone_id = $1::text AND EXISTS (SELECT 1 FROM z)
     AND id <= (SELECT c.id FROM zone_changes c WHERE c.zone_id = $1::text
                ORDER BY c.id DESC OFFSET $24::int LIMIT 1)
  RETURNING 1
)
SELECT (SELECT count(*) FROM z) AS zones, (SELECT count(*) FROM rec) AS records,
       (SELECT count(*) FROM soa) AS soa, (SELECT count(*) FROM ch) AS changes,
       (SELECT count(*) FROM job) AS jobs,
       set_config('""" + records_data.WRITTEN + """', 'on', true) AS records_data_written"""

PRUNE = ("DELETE FROM zone_changes WHERE zone_id = $1::text AND id <= (SELECT id FROM "
         "zone_changes WHERE zone_id = $1::text ORDER BY id DESC OFFSET $2::int LIMIT 1)")

# CREATE_WRITE for several creates in distinct zones (:class:`_CreateBatcher`): one row of
# per-create arrays each, the records flattened (``u``, keyed by recordset id). Run after
# LOCK_ZONES in the same transaction, so zone rows are locked in id order (two batches that
# share zones never deadlock); the version/serial guard still decides which creates are written.
LOCK_ZONES = "SELECT id FROM zones WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"

CREATE_WRITE_MANY = """
WITH c AS (
  SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::timestamp[],
                       $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[],
                       $12::text[], $13::text[], $14::bytea[], $15::bytea[], $16::bytea[],
                       $17::int[], $18::text[], $19::boolean[], $20::int[])
    AS c(zone_id, version, old_serial, serial, now, rs_id, project_id, name, type, ttl,
         description, soa_id, soa_text, soa_rdata, removed, added, added_count, job_id, prune,
         keep)
), u AS (
  SELECT * FROM unnest($21::text[], $22::text[], $23::text[], $24::bytea[], $25::bytea[])
    AS u(rs_id, id, data, rdata, axfr_rr)
), z AS (
  UPDATE zones SET serial = c.serial, status = 'PENDING', updated_at = c.now,
         version = zones.version + 1, recordset_count = zones.recordset_count + 1,
         action = CASE WHEN zones.action IN ('CREATE', 'DELETE') AND zones.status = 'PENDING'
                       THEN zones.action ELSE 'UPDATE' END
    FROM c
   WHERE zones.id = c.zone_id AND zones.version = c.version AND zones.serial = c.old_serial
     AND zones.deleted_at IS NULL
  RETURNING zones.id
), ok AS (
  SELECT c.* FROM c JOIN z ON z.id = c.zone_id
), rs AS (
  INSERT INTO recordsets (id, zone_id, project_id, name, type, ttl, description,
                          managed, status, action, serial, version, created_at, records_data)
  SELECT ok.rs_id, ok.zone_id, ok.project_id, ok.name, ok.type, ok.ttl, ok.description, false,
         'PENDING', 'CREATE', ok.serial, 1, ok.now,
         ARRAY(SELECT u.data FROM u WHERE u.rs_id = ok.rs_id ORDER BY u.id) FROM ok
  RETURNING id, zone_id, serial, created_at
), rec AS (
  INSERT INTO records (id, recordset_id, zone_id, data, rdata, axfr_rr, managed, status, action,
                       serial, version, created_at)
  SELECT u.id, rs.id, rs.zone_id, u.data, u.rdata, u.axfr_rr, false, 'PENDING', 'CREATE',
         rs.serial, 1, rs.created_at
    FROM rs JOIN u ON u.rs_id = rs.id
  RETURNING 1
), soa AS (
  UPDATE records SET data = ok.soa_text, rdata = ok.soa_rdata, serial = ok.serial,
         updated_at = ok.now
    FROM ok WHERE records.id = ok.soa_id
  RETURNING 1
), ch AS (
  INSERT INTO zone_changes (zone_id, serial_from, serial_to, removed, added, removed_count,
                            added_count, incremental, created_at)
  SELECT ok.zone_id, ok.old_serial, ok.serial, ok.removed, ok.added, 0, ok.added_count, true,
         ok.now FROM ok
  RETURNING 1
), job AS (
  INSERT INTO jobs (id, zone_id, kind, state, target_serial, attempts, run_after, payload,
                    created_at)
  SELECT ok.job_id, ok.zone_id, 'propagate', 'pending', ok.serial, 0, ok.now, '{}'::json,
         ok.now FROM ok ORDER BY ok.zone_id
  """ + JOB_UPSERT + """
), pruned AS (
  -- Each pruning zone's cut-off is looked up once (LATERAL), not once per journal row.
  DELETE FROM zone_changes d
   USING (SELECT ok.zone_id, cut.id FROM ok CROSS JOIN LATERAL (
            SELECT p.id FROM zone_changes p WHERE p.zone_id = ok.zone_id
             ORDER BY p.id DESC OFFSET ok.keep LIMIT 1) cut
           WHERE ok.prune) k
   WHERE d.zone_id = k.zone_id AND d.id <= k.id
  RETURNING 1
)
SELECT ARRAY(SELECT id FROM z) AS written, (SELECT count(*) FROM rec) AS records,
       (SELECT count(*) FROM soa) AS soa, (SELECT count(*) FROM ch) AS changes,
       (SELECT count(*) FROM job) AS jobs,
       set_config('""" + records_data.WRITTEN + """', 'on', true) AS records_data_written"""


async def create_recordset(svc: RecordsetService, ctx: Context, zone_id: str, name: str,
                           rtype: str, values: dict[str, Any],
                           parsed: list[ParsedRecord]) -> dict[str, Any]:
    """``RecordsetService.create_recordset`` after its input checks, on PostgreSQL."""
    vis = visibility(ctx)
    candidates = [name, *parent_names(name)]
    rs_id = changes.new_id()
    record_ids = [changes.new_id() for _ in parsed]

    async def prepare(drv: Any, locked: bool) -> _Create:
        """Read and validate; the write's parameters and the answer."""
        if locked:
            # Lock first, then read in a new statement. ``SELECT … FOR UPDATE`` under READ
            # COMMITTED returns the newest zone row but evaluates the SOA subquery in the
            # statement's older snapshot: the journal would get a stale "old SOA".
            await drv.execute(LOCK_ZONE, zone_id)
        zone = await drv.fetchrow(CREATE_READ, zone_id, *vis, name, candidates)
        if zone is None:
            raise ZoneNotFound()
        z = Rec(zone)
        svc._writable(z)
        _check_location(z, name, rtype)
        limits = svc.settings.quotas.model_dump()
        limits.update(zip(zone["quota_resources"], (int(v) for v in zone["quota_limits"]),
                          strict=True))
        _quota(limits, "recordset_records", len(parsed), 0)
        _quota(limits, "zone_recordsets", z.recordset_count, 1)
        if limits["zone_records"] >= 0:
            current = await drv.fetchval(ZONE_RECORDS_COUNT, z.id, limits["zone_records"] + 1)
            _quota(limits, "zone_records", current, len(parsed))
        if zone["soa_id"] is None:  # no SOA record: nothing for this path to rewrite
            raise _Fallback()
        serial = changes.next_serial(z.serial)
        # Every 16th serial prunes the journal to its newest ``keep`` entries, in the same
        # statement (its ``pruned`` part sees the entries before this one: it keeps keep - 1).
        prune, keep = serial % 16 == 0, max(svc.settings.journal_retention, 0)
        if prune and keep == 0 and not locked:  # not even this entry is kept: a transaction
            raise _Retry()
        now = changes.utcnow()
        zname = wire.name_wire(z.name)
        text, soa_rdata = changes.soa_for(z, serial, zone["mname"] or "invalid.")
        old_soa = wire.rr(zname, 6, z.ttl, zone["soa_rdata"])
        new_soa = wire.rr(zname, 6, z.ttl, soa_rdata)
        ttl = values.get("ttl")
        owner, code = wire.name_wire(name), wire.type_code(rtype)
        rr_ttl = changes.effective_ttl(ttl, z.ttl)
        added = b"".join(wire.rr(owner, code, rr_ttl, p.wire) for p in parsed)
        head = wire.axfr_head(name, z.name, rtype)
        args = (z.id, z.version, z.serial, serial, now,
                rs_id, ctx.project or z.project_id, name, rtype, ttl,
                [wire.axfr_rr(head, rr_ttl, p.wire) for p in parsed], values.get("description"),
                record_ids, [p.data for p in parsed], [p.wire for p in parsed],
                zone["soa_id"], text, soa_rdata, old_soa, new_soa + added, len(parsed),
                changes.new_id(), prune and keep > 0, max(keep - 1, 0))
        result = {
            "id": rs_id, "project_id": ctx.project or z.project_id, "zone_id": z.id,
            "zone_name": z.name, "name": name, "type": rtype, "ttl": ttl,
            "records": [p.data for p in parsed], "description": values.get("description"),
            "status": "PENDING", "action": "CREATE", "version": 1, "created_at": iso(now),
            "updated_at": None, "_serial": serial,
        }
        return _Create(z.id, args, result, prune and keep == 0)

    async def run() -> dict[str, Any]:
        batcher = batcher_for(svc.engine)
        try:
            async with driver(svc.engine) as drv:
                create = await prepare(drv, locked=False)
                if batcher is None and await write_one(drv, create):
                    return create.result
            if batcher is not None and await batcher.write(create):
                return create.result
        except _Retry:
            pass
        async with driver(svc.engine) as drv, drv.transaction():
            create = await prepare(drv, locked=True)
            if not await write_one(drv, create):  # the row is locked and was just read
                raise AssertionError("locked zone row changed")
            return create.result

    try:
        return await with_retries(run)
    except _Fallback:
        return await svc._create_recordset_sa(ctx, zone_id, name, rtype, values, parsed)


@dataclass(slots=True)
class _Create:
    """A validated create: CREATE_WRITE's parameters and the answer once written."""

    zone_id: str
    args: tuple[Any, ...]
    result: dict[str, Any]
    prune_all: bool  # the journal keeps nothing: PRUNE after the write (locked path only)


async def write_one(drv: Any, create: _Create) -> bool:
    """CREATE_WRITE for one create; False when the zone changed since it was read."""
    out = await drv.fetchrow(CREATE_WRITE, *create.args)
    if out["zones"] == 0:
        return False
    if create.prune_all:
        await drv.execute(PRUNE, create.zone_id, 0)
    return True


async def write_many(drv: Any, creates: list[_Create]) -> set[str]:
    """CREATE_WRITE_MANY for creates in distinct zones, in one transaction; the zones written
    (a zone left out changed since its create read it)."""
    cols = list(zip(*(c.args for c in creates), strict=True))
    rs_ids, axfr, rec_ids, data, rdata = cols[5], cols[10], cols[12], cols[13], cols[14]
    async with drv.transaction():
        await drv.execute(LOCK_ZONES, [c.zone_id for c in creates])
        out = await drv.fetchrow(
            CREATE_WRITE_MANY, *(list(cols[i]) for i in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15,
                                                         16, 17, 18, 19, 20, 21, 22, 23)),
            [rs for rs, ids in zip(rs_ids, rec_ids, strict=True) for _ in ids],
            [i for ids in rec_ids for i in ids], [d for ds in data for d in ds],
            [w for ws in rdata for w in ws], [a for rrs in axfr for a in rrs])
    return set(out["written"])


class _CreateBatcher:
    """Coalesces the concurrent recordset creates of one process: while one write is running,
    the creates validated meanwhile wait, and go together as the next one (one transaction and
    one CREATE_WRITE_MANY for up to :data:`BATCH_MAX` creates in distinct zones; a create
    alone is written by CREATE_WRITE as before). No timer: a lone create is written at once.

    Fewer, larger transactions cost PostgreSQL far less per create than one each (statement
    set-up, commit, the serialised NOTIFY at commit, lock traffic between 32 backends). A batch
    that fails as a whole (e.g. one create's constraint violation) is retried create by create,
    so each create gets its own outcome."""

    BATCH_MAX = 64

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.waiting: list[tuple[_Create, asyncio.Future[bool]]] = []
        self.task: asyncio.Task[None] | None = None
        self.batched = 0  # creates written in batches of two or more, for tests and metrics

    async def write(self, create: _Create) -> bool:
        """Write ``create`` with whatever else is waiting; False when its zone changed."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append((create, future))
        if self.task is None:
            self.task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch: list[tuple[_Create, asyncio.Future[bool]]] = []
                later: list[tuple[_Create, asyncio.Future[bool]]] = []
                zones: set[str] = set()
                for item in self.waiting:
                    if item[0].zone_id in zones or len(batch) >= self.BATCH_MAX:
                        later.append(item)
                    else:
                        zones.add(item[0].zone_id)
                        batch.append(item)
                self.waiting = later
                await self._write(batch)
        finally:
            self.task = None

    async def _write(self, batch: list[tuple[_Create, asyncio.Future[bool]]]) -> None:
        creates = [c for c, _ in batch]
        try:
            async with driver(self.engine) as drv:
                if len(creates) == 1:
                    outcomes = [await write_one(drv, creates[0])]
                else:
                    written = await write_many(drv, creates)
                    outcomes = [c.zone_id in written for c in creates]
                    self.batched += len(creates)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for create, future in batch:  # one by one: each its own outcome
                try:
                    async with driver(self.engine) as drv:
                        _settle(future, await write_one(drv, create))
                except Exception as one_exc:
                    _settle(future, one_exc)
            return
        for (_, future), ok in zip(batch, outcomes, strict=True):
            _settle(future, ok)


def _settle(future: asyncio.Future[bool], outcome: bool | BaseException) -> None:
    if future.done():  # the request was cancelled meanwhile
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


_BATCHERS: weakref.WeakKeyDictionary[Any, _CreateBatcher] = weakref.WeakKeyDictionary()


def batcher_for(engine: AsyncEngine) -> _CreateBatcher | None:
    """The engine's create batcher in a process that keeps connections, else None."""
    if not keeps(engine):
        return None
    batcher = _BATCHERS.get(engine.pool)
    if batcher is None:
        batcher = _BATCHERS[engine.pool] = _CreateBatcher(engine)
    return batcher


class _Retry(Exception):
    """The optimistic write lost to another write: redo it under the row lock."""


class _Fallback(Exception):
    """A case the hot path does not cover: use the SQLAlchemy path."""


def _quota(limits: dict[str, int], resource: str, current: int, adding: int) -> None:
    """``ServiceBase.check_quota`` with the current count known."""
    limit = limits[resource]
    if limit >= 0 and current + adding > limit:
        raise OverQuota(f"Quota exceeded for {resource}.")


def _check_location(zone: Any, name: str, rtype: str) -> None:
    """``RecordsetService._check_location`` on the values the create read fetched."""
    if not in_zone(name, zone.name):
        raise InvalidRecordSetLocation("RecordSet belongs in a child zone or is not in the zone")
    if rtype == "CNAME" and name == zone.name:
        raise InvalidRecordSetLocation("CNAME recordsets may not be created at the zone apex")
    if name != zone.name and any(is_subdomain(n, zone.name) for n in zone.nearby):
        raise InvalidRecordSetLocation("RecordSet belongs in a child zone")
    others = list(zone.others)
    if rtype in others:
        raise DuplicateRecordSet()
    if (rtype == "CNAME" and others) or "CNAME" in others:
        raise InvalidRecordSetLocation(
            "CNAME recordsets may not share a name with any other records")
