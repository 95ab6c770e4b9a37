"""The worker: N concurrent job slots fed by the database queue, plus the recovery task.

    async with Worker(service, settings, concurrency=16) as worker:
        await worker.wait_closed()          # or stop() from a signal handler

Any number of workers (processes) may run against one database: claims use
``FOR UPDATE SKIP LOCKED`` and leases, so each job runs once; a worker that dies loses its
leases and another one finishes its jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.service import Service
from dnsaas.service.changes import upsert_job
from dnsaas.settings import Settings
from workers.nameservers import NotifyFn, stats
from workers.propagation import Outcome, Propagator
from workers.queue import Job, JobQueue, Wakeups
from workers.recovery import Recovery
from workers.secondary import LifecycleJobs

log = logging.getLogger(__name__)
#: one line per finished run, machine-readable (the exactly-once tests parse it)
runs_log = logging.getLogger("dnsaas.worker.runs")
#: the process's poll/NOTIFY counters every STATS_EVERY seconds while they move (the benchmark
#: reads them)
stats_log = logging.getLogger("dnsaas.worker.stats")
STATS_EVERY = 1.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims propagation jobs and runs them, ``concurrency`` at a time."""

    def __init__(self, service: Service, settings: Settings, *, concurrency: int = 16,
                 worker_id: str | None = None, recovery: bool = True,
                 notify: NotifyFn | None = None, idle_poll: float | None = None,
                 retry_base: float = 0.25, retry_cap: float = 30.0):
        self.service = service
        self.settings = settings
        self.concurrency = max(1, concurrency)
        self.worker_id = worker_id or default_worker_id()
        self.queue = JobQueue(service.engine, self.worker_id,
                              lease_seconds=settings.worker_lease_seconds,
                              kinds=("propagate", *LifecycleJobs.KINDS))
        self.propagator = Propagator(service, settings, notify=notify)
        self.lifecycle = LifecycleJobs(service, settings, self.propagator)
        self.recovery = Recovery(service, settings, self.worker_id) if recovery else None
        self.idle_poll = idle_poll
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.wakeups = Wakeups(service.engine, on_zone=self.propagator.zone_changed)
        self._inflight: set[asyncio.Task[None]] = set()
        self._main: asyncio.Task[None] | None = None
        self._recovery_task: asyncio.Task[None] | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.completed = 0

    async def __aenter__(self) -> Worker:
        await self.wakeups.__aenter__()
        self._main = asyncio.create_task(self._loop(), name=f"worker-{self.worker_id}")
        if self.recovery is not None:
            self._recovery_task = asyncio.create_task(self.recovery.run_forever(self._stopping))
        if stats_log.isEnabledFor(logging.INFO):
            self._stats_task = asyncio.create_task(self._log_stats())
        return self

    async def _log_stats(self) -> None:
        last: dict[str, int] = {}
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), STATS_EVERY)
            now = {**stats, "runs": self.completed}
            if now != last:
                stats_log.info("stats %s", " ".join(f"{k}={v}" for k, v in now.items()))
                last = now

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def stop_soon(self) -> None:
        """Ask the worker to stop (safe from a signal handler)."""
        self._stopping.set()
        self.wakeups.poke()

    async def wait_closed(self) -> None:
        """Return when the worker stopped."""
        if self._main is not None:
            await asyncio.shield(self._main)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, let running jobs finish for ``grace`` seconds, cancel the rest."""
        self.stop_soon()
        for task in (self._main, self._recovery_task, self._stats_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.propagator.close()
        await self.wakeups.__aexit__(None, None, None)

    async def _loop(self) -> None:
        failures = 0
        lease = self.settings.worker_lease_seconds
        while not self._stopping.is_set():
            free = self.concurrency - len(self._inflight)
            try:
                jobs = await self.queue.claim(free) if free > 0 else []
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the database may be away for a while
                failures += 1
                log.warning("claiming jobs failed: %s", exc)
                await self.wakeups.wait(min(5.0, 0.1 * 2**failures))
                continue
            for job in jobs:
                task = asyncio.create_task(self._run_job(job))
                self._inflight.add(task)
                task.add_done_callback(self._job_done)
            if jobs and len(jobs) == free:
                continue  # more may be ready
            if free <= 0:
                await self.wakeups.wait(lease)  # a slot frees up → poke
                continue
            cap = self.idle_poll or (5.0 if self.wakeups.listening or
                                     self.service.engine.dialect.name == "sqlite" else 0.5)
            try:
                wait = await self.queue.seconds_until_due(cap)
            except Exception:  # noqa: BLE001
                wait = cap
            if wait > 0:
                await self.wakeups.wait(wait)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        was_full = len(self._inflight) >= self.concurrency
        self._inflight.discard(task)
        if was_full:  # the loop waits for a free slot; otherwise a finished job needs no claim
            self.wakeups.poke()

    async def _run_job(self, job: Job) -> None:
        keeper = asyncio.create_task(self._keep_lease(job))
        started = time.monotonic()
        try:
            try:
                outcome = await (self.propagator.run(job) if job.kind == "propagate"
                                 else self.lifecycle.run(job))
            except Exception as exc:  # noqa: BLE001 - report and retry, never crash the worker
                log.exception("propagation of %s crashed", job.zone_id)
                outcome = Outcome(ok=False, error=f"internal error: {exc!r}")
        finally:
            keeper.cancel()
        state: str | None = None
        try:
            state = await self._finish(job, outcome, time.monotonic() - started)
        except Exception:  # noqa: BLE001 - the lease expires and another run happens
            log.exception("could not record the result of job %s", job.id)
        if state != "done":  # pending again (now or after a backoff), or unknown: re-plan
            self.wakeups.poke()

    async def _finish(self, job: Job, outcome: Outcome, took: float) -> str | None:
        """Record the run's result; returns the job's new state (None: lease lost)."""
        zone = job.zone
        name = zone.name if zone else job.zone_id
        serial = zone.serial if zone else job.target_serial
        action = zone.action if zone else "-"
        if job.queued_at is not None:  # the change's commit (job upsert) → this claim
            outcome.timings["queued"] = max(0.0, (job.generation - job.queued_at).total_seconds())
        if outcome.ok:
            t_done = time.monotonic()
            if outcome.marking is None:
                state = await self.queue.complete(job)
            else:  # complete while ACTIVE is being marked: a newer change is claimed sooner
                state, marked = await asyncio.gather(self.queue.complete(job), outcome.marking,
                                                     return_exceptions=True)
                if isinstance(state, BaseException):
                    raise state
                if isinstance(marked, BaseException):
                    await self._remark(job, marked)
            outcome.timings["complete"] = time.monotonic() - t_done
            self.completed += 1
            runs_log.info("run zone=%s name=%s serial=%s action=%s attempt=%d result=ok "
                          "state=%s worker=%s ms=%.1f %s", job.zone_id, name, serial, action,
                          job.attempts, state, self.worker_id, took * 1000,
                          " ".join(f"{k}={v * 1000:.1f}" for k, v in outcome.timings.items()))
            return state
        budget = self.settings.worker_retry_budget
        if job.attempts + 1 >= budget:
            state = await self.queue.give_up(job, outcome.error)
            if state == "error" and not outcome.active:
                await self.service.mark_error(job.zone_id)
            result = "error"
        else:
            delay = min(self.retry_cap, self.retry_base * 2 ** job.attempts)
            state = await self.queue.retry(job, outcome.error, delay)
            result = "retry"
        runs_log.info("run zone=%s name=%s serial=%s action=%s attempt=%d result=%s state=%s "
                      "worker=%s ms=%.1f error=%s", job.zone_id, name, serial, action,
                      job.attempts, result, state, self.worker_id, took * 1000, outcome.error)
        return state

    async def _remark(self, job: Job, exc: BaseException) -> None:
        """Marking ACTIVE failed after the job was completed: make it pending again so a run
        marks it (the recovery sweep would, later)."""
        log.warning("marking %s ACTIVE failed (%s); queueing another run", job.zone_id, exc)
        serial = job.zone.serial if job.zone else job.target_serial

        async def requeue(conn: AsyncConnection) -> None:
            await upsert_job(conn, job.zone_id, "propagate", serial)
        try:
            await self.service.tx(requeue)
        except Exception:  # noqa: BLE001 - the recovery sweep picks the zone up
            log.exception("could not requeue %s", job.zone_id)

    async def _keep_lease(self, job: Job) -> None:
        every = max(0.05, self.settings.worker_lease_seconds / 3)
        while True:
            await asyncio.sleep(every)
            try:
                if not await self.queue.extend(job):
                    log.warning("lost the lease of job %s", job.id)
                    return
            except Exception as exc:  # noqa: BLE001
                log.warning("renewing lease of %s failed: %s", job.id, exc)
