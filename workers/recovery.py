"""Periodic recovery (Designate's producer tasks, done by every worker, one at a time):

- jobs that gave up (state ``error``: zone ERROR, or nameservers still lagging after the retry
  budget) get another attempt every ``recovery_interval``;
- zones left PENDING or ERROR without a live job (should not happen; cheap to check) get one;
- soft-deleted zones are purged after ``purge_after``;
- zone imports left PENDING by an API process that died (no progress for
  ``import_stale_after``) end in ERROR;
- the worker heartbeats its service status.

On PostgreSQL the sweep takes a transaction-level advisory lock so that concurrent workers do
not sweep at the same time; on SQLite the single writer already serialises them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.service import Service
from dnsaas.service.changes import upsert_job, utcnow
from dnsaas.settings import Settings
from dnsaas.storage import tables as t
from workers.queue import wake_local

log = logging.getLogger(__name__)
SWEEP_LOCK = 0x646E7361  # "dnsa"


class Recovery:
    """One sweep per ``settings.recovery_interval`` seconds."""

    def __init__(self, service: Service, settings: Settings, worker_id: str, *,
                 purge_after: timedelta = timedelta(days=7)):
        self.service = service
        self.settings = settings
        self.worker_id = worker_id
        self.purge_after = purge_after

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Sweep until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.service.heartbeat("worker", self.worker_id)
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - try again next interval
                log.warning("recovery sweep failed: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), self.settings.recovery_interval)
            except TimeoutError:
                pass

    async def sweep(self) -> dict[str, int]:
        """One recovery pass; returns how many of each thing it did."""
        budget = self.settings.worker_retry_budget
        stale = timedelta(seconds=self.settings.worker_poll_timeout * 2
                          + self.settings.worker_lease_seconds)

        async def run(conn: AsyncConnection) -> dict[str, int]:
            if conn.dialect.name == "postgresql":
                got = (await conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(
                    SWEEP_LOCK)))).scalar_one()
                if not got:
                    return {}
            now = utcnow()
            retried = (await conn.execute(t.jobs.update().where(
                t.jobs.c.state == "error",
                sa.func.coalesce(t.jobs.c.updated_at, t.jobs.c.created_at)
                <= now - timedelta(seconds=self.settings.recovery_interval * 0.9),
            ).values(state="pending", attempts=max(0, budget - 1), run_after=now,
                     updated_at=now))).rowcount
            live_job = sa.exists().where(t.jobs.c.zone_id == t.zones.c.id,
                                         t.jobs.c.kind == "propagate",
                                         t.jobs.c.state.in_(("pending", "running", "error")))
            orphans = (await conn.execute(sa.select(t.zones.c.id, t.zones.c.serial).where(
                t.zones.c.deleted_at.is_(None), t.zones.c.status.in_(("PENDING", "ERROR")),
                t.zones.c.type != "CATALOG",
                sa.func.coalesce(t.zones.c.updated_at, t.zones.c.created_at) <= now - stale,
                ~live_job).limit(1000))).all()
            for z in orphans:
                await upsert_job(conn, z.id, "propagate", int(z.serial))
            return {"retried": int(retried or 0), "requeued": len(orphans)}
        done = await self.service.tx(run)
        if done.get("retried") or done.get("requeued"):
            log.info("recovery: %s", done)
            wake_local()
        interrupted = await self.service.fail_stale_imports()
        if interrupted:
            done["interrupted_imports"] = interrupted
        purged = await self.service.purge_deleted(older_than=self.purge_after)
        if purged:
            done["purged"] = purged
        return done
