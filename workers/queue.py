"""The durable job queue on the database (design.md invariants 3 and 4).

One row per (zone, kind) in ``jobs``; the service layer moves ``target_serial`` forward and
makes the row pending in the same transaction as each change. Workers here:

- **claim** ready rows (pending and due, or running with an expired lease) with
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, or a plain update inside SQLite's
  ``BEGIN IMMEDIATE`` (one writer at a time), taking a lease;
- **complete** them with a generation check: a change that arrived while the job ran (its
  upsert moved ``target_serial`` or touched ``updated_at``) leaves the row pending, so a burst
  of changes coalesces into exactly one more run;
- **retry** with exponential backoff via ``run_after``, or give up (state ``error``).

Wake-ups: PostgreSQL ``LISTEN dnsaas_jobs`` (the service layer notifies on every upsert), an
in-process signal fired after any commit that wrote ``jobs`` (SQLite, or api and worker in one
process), and polling as the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dnsaas.service.changes import JOBS_CHANNEL, utcnow
from dnsaas.storage import tables as t
from dnsaas.storage.db import in_transaction, reader

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ZoneSnapshot:
    """The zone as it was when its job was claimed (read in the claim's transaction)."""

    id: str
    name: str
    pool_id: str
    serial: int
    action: str
    status: str
    type: str
    deleted: bool
    pool_version: int | None = None  # the pool's version at claim time (PoolBackends' cache key)


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job. ``generation`` is the row's ``updated_at`` as set by the claim."""

    id: str
    zone_id: str
    kind: str
    target_serial: int
    attempts: int
    payload: dict[str, Any]
    generation: datetime
    leased_by: str
    zone: ZoneSnapshot | None
    queued_at: datetime | None = None  # the row's updated_at before the claim (last upsert)


class JobQueue:
    """Claim, complete, retry and fail jobs as worker ``worker_id``."""

    def __init__(self, engine: AsyncEngine, worker_id: str, *, lease_seconds: float = 30.0,
                 kinds: tuple[str, ...] = ("propagate",)):
        self.engine = engine
        self.worker_id = worker_id
        self.lease = timedelta(seconds=lease_seconds)
        self.kinds = kinds
        self._autocommit = reader(engine)  # same pool, no BEGIN/COMMIT round trips

    def _async_commit(self, conn: AsyncConnection) -> sa.ColumnElement[bool]:
        """A WHERE term that makes this single-statement transaction commit asynchronously on
        PostgreSQL (``synchronous_commit = off`` for it alone, set locally by a scalar
        subquery): no wait for the WAL flush, which costs 3–15 ms (p50–p90; tens of ms when
        the disk is busy) on the critical path of every change. Safe for job bookkeeping: a
        database crash can only undo the last few claims/completions, and a job that is
        pending or running again is simply run again (runs are idempotent). True on SQLite."""
        if conn.dialect.name != "postgresql":
            return sa.true()
        return sa.select(sa.func.set_config("synchronous_commit", "off", True)).scalar_subquery() \
            .is_not(None)

    def _single(self) -> AsyncEngine:
        """Where single-statement writes run: AUTOCOMMIT on PostgreSQL (one round trip instead
        of BEGIN/statement/COMMIT); SQLite keeps its ``BEGIN IMMEDIATE`` transactions."""
        return self.engine if self.engine.dialect.name == "sqlite" else self._autocommit

    async def claim(self, limit: int = 1) -> list[Job]:
        """Lease up to ``limit`` ready jobs (oldest due first); empty when none is ready.

        PostgreSQL: one ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`` statement in
        autocommit, then one read of the claimed zones (and their pools' versions) in a fresh
        snapshot, i.e. taken after the claim: the zone is at least as new as the job's
        ``target_serial`` (2 round trips; was BEGIN, SELECT, UPDATE, SELECT, COMMIT)."""
        if limit <= 0:
            return []

        async def run(conn: AsyncConnection) -> list[Job]:
            now = utcnow()
            ready = sa.or_(
                sa.and_(t.jobs.c.state == "pending", t.jobs.c.run_after <= now),
                sa.and_(t.jobs.c.state == "running", t.jobs.c.lease_until < now),
            )
            pick = (sa.select(t.jobs.c.id, t.jobs.c.updated_at.label("queued_at"))
                    .where(ready, t.jobs.c.kind.in_(self.kinds))
                    .order_by(t.jobs.c.run_after).limit(limit))
            # Generations must differ from anything an upsert in flight may write: one claim
            # timestamp per row, strictly increasing.
            values = dict(state="running", lease_until=now + self.lease, leased_by=self.worker_id,
                          updated_at=now)
            returning = (t.jobs.c.id, t.jobs.c.zone_id, t.jobs.c.kind, t.jobs.c.target_serial,
                         t.jobs.c.attempts, t.jobs.c.payload)
            if conn.dialect.name == "postgresql":
                picked = pick.with_for_update(skip_locked=True).cte("picked")
                rows = (await conn.execute(
                    t.jobs.update().where(t.jobs.c.id == picked.c.id, self._async_commit(conn))
                    .values(**values).returning(*returning, picked.c.queued_at))).all()
                queued = {r.id: r.queued_at for r in rows}
            else:
                picks = (await conn.execute(pick)).all()
                if not picks:
                    return []
                queued = {r.id: r.queued_at for r in picks}
                rows = (await conn.execute(
                    t.jobs.update().where(t.jobs.c.id.in_(list(queued))).values(**values)
                    .returning(*returning))).all()
            if not rows:
                return []
            zone_ids = [r.zone_id for r in rows]
            zones = {z.id: z for z in (await conn.execute(
                sa.select(t.zones.c.id, t.zones.c.name, t.zones.c.pool_id, t.zones.c.serial,
                          t.zones.c.action, t.zones.c.status, t.zones.c.type,
                          t.zones.c.deleted_at, t.pools.c.version)
                .select_from(t.zones.outerjoin(t.pools, t.pools.c.id == t.zones.c.pool_id))
                .where(t.zones.c.id.in_(zone_ids)))).all()}
            out = []
            for r in rows:
                z = zones.get(r.zone_id)
                snap = None if z is None else ZoneSnapshot(
                    z.id, z.name, z.pool_id, int(z.serial), z.action, z.status, z.type,
                    z.deleted_at is not None, None if z.version is None else int(z.version))
                out.append(Job(r.id, r.zone_id, r.kind, int(r.target_serial), int(r.attempts),
                               dict(r.payload or {}), now, self.worker_id, snap,
                               queued.get(r.id)))
            return out
        return await in_transaction(self._single(), run)

    def _mine(self, job: Job) -> sa.ColumnElement[bool]:
        return sa.and_(t.jobs.c.id == job.id, t.jobs.c.leased_by == job.leased_by,
                       t.jobs.c.state == "running")

    def _unchanged(self, job: Job) -> sa.ColumnElement[bool]:
        return sa.and_(t.jobs.c.target_serial == job.target_serial,
                       t.jobs.c.updated_at == job.generation)

    async def complete(self, job: Job) -> str | None:
        """Finish ``job``: ``done``, or ``pending`` when a newer change arrived meanwhile.

        Returns the new state, or None when the lease was lost to another worker.
        """
        async def run(conn: AsyncConnection) -> str | None:
            row = (await conn.execute(
                t.jobs.update().where(self._mine(job), self._async_commit(conn)).values(
                    state=sa.case((self._unchanged(job), "done"), else_="pending"),
                    lease_until=None, leased_by=None, last_error=None)
                .returning(t.jobs.c.state))).first()
            return None if row is None else str(row.state)
        state = await in_transaction(self._single(), run)
        if state == "pending":
            wake_local()
        return state

    async def retry(self, job: Job, error: str, delay: float) -> str | None:
        """Run ``job`` again after ``delay`` seconds (attempts + 1); a newer change that
        arrived meanwhile runs at once with a fresh budget. Returns the new state."""
        async def run(conn: AsyncConnection) -> str | None:
            now = utcnow()
            unchanged = self._unchanged(job)
            row = (await conn.execute(
                t.jobs.update().where(self._mine(job), self._async_commit(conn)).values(
                    state="pending", lease_until=None, leased_by=None, last_error=error[:2000],
                    attempts=sa.case((unchanged, t.jobs.c.attempts + 1), else_=t.jobs.c.attempts),
                    run_after=sa.case((unchanged, now + timedelta(seconds=delay)),
                                      else_=t.jobs.c.run_after))
                .returning(t.jobs.c.state))).first()
            return None if row is None else str(row.state)
        return await in_transaction(self._single(), run)

    async def give_up(self, job: Job, error: str) -> str | None:
        """The retry budget is spent: state ``error`` (the recovery task re-enqueues it), unless
        a newer change arrived meanwhile, which gets a fresh run."""
        async def run(conn: AsyncConnection) -> str | None:
            row = (await conn.execute(
                t.jobs.update().where(self._mine(job), self._async_commit(conn)).values(
                    state=sa.case((self._unchanged(job), "error"), else_="pending"),
                    lease_until=None, leased_by=None, last_error=error[:2000],
                    attempts=t.jobs.c.attempts + 1)
                .returning(t.jobs.c.state))).first()
            return None if row is None else str(row.state)
        return await in_transaction(self._single(), run)

    async def extend(self, job: Job) -> bool:
        """Renew the lease of a job still being worked on; False if it was lost."""
        async def run(conn: AsyncConnection) -> bool:
            res = await conn.execute(t.jobs.update().where(self._mine(job), self._async_commit(conn)).values(
                lease_until=utcnow() + self.lease))
            return bool(res.rowcount)
        return await in_transaction(self._single(), run)

    async def seconds_until_due(self, cap: float) -> float:
        """Seconds until the next pending job is due or a lease expires (at most ``cap``)."""
        async with self._autocommit.connect() as conn:
            row = (await conn.execute(sa.select(
                sa.select(sa.func.min(t.jobs.c.run_after)).where(
                    t.jobs.c.state == "pending", t.jobs.c.kind.in_(self.kinds)).scalar_subquery(),
                sa.select(sa.func.min(t.jobs.c.lease_until)).where(
                    t.jobs.c.state == "running", t.jobs.c.kind.in_(self.kinds)).scalar_subquery(),
            ))).first()
        now = utcnow()
        waits = [cap]
        if row is not None and row[0] is not None:
            waits.append((row[0] - now).total_seconds())
        if row is not None and row[1] is not None:
            waits.append((row[1] - now).total_seconds() + 0.001)
        return max(0.0, min(waits))


# --- wake-ups -------------------------------------------------------------------------------
_local_waiters: weakref.WeakSet[_Waiter] = weakref.WeakSet()


class _Waiter:
    """An event set from any thread (SQLAlchemy events may fire off the loop's thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed
            self.loop.call_soon_threadsafe(self.event.set)


def wake_local() -> None:
    """Wake every worker of this process (after a commit that wrote jobs)."""
    for waiter in list(_local_waiters):
        waiter.set()


def _is_job_write(statement: str) -> bool:
    head = statement.lstrip()[:40].upper()
    return head.startswith(("INSERT INTO JOBS", "UPDATE JOBS"))


@event.listens_for(Engine, "before_cursor_execute")
def _note_job_write(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                    executemany: bool) -> None:
    if _local_waiters and _is_job_write(statement):
        conn.info["dnsaas_jobs_written"] = True


@event.listens_for(Engine, "commit")
def _after_job_commit(conn: Any) -> None:
    if conn.info.pop("dnsaas_jobs_written", False):
        # Fired just before the COMMIT reaches the database; the woken worker's claim runs in
        # a later transaction of its own, which the single-writer lock (SQLite) or the row
        # lock (PostgreSQL) orders after this one.
        wake_local()


class Wakeups:
    """What a worker waits on: LISTEN (PostgreSQL), the in-process signal, and a timeout."""

    def __init__(self, engine: AsyncEngine, *, on_change: Callable[[], None] | None = None,
                 on_zone: Callable[[str], bool] | None = None):
        """``on_zone``: called with the zone id of every PostgreSQL notification (a change to
        that zone was committed), e.g. to nudge a run already in flight for it; True means the
        change needs no claim now (its job is running here, and completing it leaves the job
        pending and wakes this worker), so the waiting worker is not woken for it."""
        self.engine = engine
        self._on_zone = on_zone
        self._waiter: _Waiter | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self.listening = False
        self._on_change = on_change

    async def __aenter__(self) -> Wakeups:
        self._waiter = _Waiter()
        _local_waiters.add(self._waiter)
        if self.engine.dialect.name == "postgresql":
            self._listen_task = asyncio.create_task(self._listen(), name="dnsaas-listen")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listen_task
        if self._waiter is not None:
            _local_waiters.discard(self._waiter)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._on_zone is not None and payload:
            try:
                if self._on_zone(payload):
                    return
            except Exception:  # noqa: BLE001 - a nudge is an optimisation; never stop listening
                log.exception("zone change callback failed")
        self.poke()

    def poke(self) -> None:
        """Wake the waiting worker now."""
        if self._waiter is not None:
            self._waiter.event.set()

    async def wait(self, seconds: float) -> bool:
        """Wait for a wake-up or ``seconds``; True when woken."""
        assert self._waiter is not None, "use as an async context manager"
        ev = self._waiter.event
        try:
            await asyncio.wait_for(ev.wait(), seconds)
            return True
        except TimeoutError:
            return False
        finally:
            ev.clear()

    async def _listen(self) -> None:
        import asyncpg

        url = self.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        backoff = 0.1
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(dsn, timeout=5)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, ev=lost: ev.set())
                await conn.add_listener(JOBS_CHANNEL, self._notified)
                self.listening = True
                backoff = 0.1
                self.poke()  # anything missed while not listening
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN %s failed: %s (polling meanwhile)", JOBS_CHANNEL, exc)
            finally:
                self.listening = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=1))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
