"""The zone lifecycle (design.md): make every pool target serve the zone at its new serial, tell
the nameservers at once, and report PENDING → ACTIVE or ERROR by serial.

One run for a claimed ``propagate`` job:

1. every pool target gets ``create_zone`` (new zone, retry, repair), ``update_zone`` (a change)
   or ``delete_zone`` (zone PENDING DELETE), concurrently and each with a timeout;
2. NOTIFY goes to the pool's nameservers, the targets' NOTIFY addresses and the also-notifies,
   all at once, right after the target calls (not after polling);
3. the nameservers' SOA is polled from that moment with a millisecond backoff; as soon as
   ``threshold_percentage`` of them serve the serial (or, for a delete, no longer serve the
   zone) the zone and its recordsets become ACTIVE (``mark_propagated``), and polling goes on
   for the laggards until the poll timeout;
4. failure or laggards: retry with exponential backoff; after the retry budget the zone goes to
   ERROR (when the threshold was not met) and the recovery task keeps trying.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from backends.base import Backend, BackendEnv, BackendError, ZoneRef, backend_class
from dnsaas.pools import PoolConfig, PoolServer, pool_version, read_pool
from dnsaas.service import Service
from dnsaas.settings import Settings
from dnsaas.storage.db import reader
from workers.nameservers import Endpoint, NotifyFn, Tsig, notifier, stats, wait_for_serial
from workers.queue import Job

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a run achieved. ``ok``: every nameserver is there; ``active``: the threshold was
    met (the zone was marked); ``error``: why not."""

    ok: bool
    active: bool = False
    error: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    #: marking ACTIVE still in flight (a run where every nameserver is there): the worker
    #: completes the job meanwhile, so a newer pending change is claimed without waiting for it
    marking: asyncio.Task[str | None] | None = None


class PoolBackends:
    """Started backends per pool, rebuilt when the pool's version changes (no restart needed)."""

    def __init__(self, engine: AsyncEngine, notify: NotifyFn):
        self.engine = engine
        self.notify = notify
        self._reader = reader(engine)
        self._pools: dict[str, tuple[PoolConfig, list[Backend]]] = {}
        self._lock = asyncio.Lock()

    async def get(self, pool_id: str, version: int | None = None
                  ) -> tuple[PoolConfig, list[Backend]] | None:
        """The pool and its started backends (cached by pool version). ``version``: the pool's
        version as read with the claim (saves a round trip); read here when None."""
        if version is None:
            async with self._reader.connect() as conn:
                version = await pool_version(conn, pool_id)
        if version is None:
            return None
        cached = self._pools.get(pool_id)
        if cached is not None and cached[0].version >= version:  # versions only grow
            return cached
        async with self._lock:
            cached = self._pools.get(pool_id)
            if cached is not None and cached[0].version == version:
                return cached
            async with self.engine.connect() as conn:
                pool = await read_pool(conn, pool_id)
            if pool is None:
                return None
            env = BackendEnv(engine=self.engine, notify=self._notify_plain,
                             nameservers=tuple((n.host, n.port) for n in pool.nameservers))
            backends = []
            for target in pool.targets:
                backend = backend_class(target.type)(target, env)
                await backend.start()
                backends.append(backend)
            self._pools[pool_id] = (pool, backends)
            if cached is not None:
                asyncio.get_running_loop().call_later(30, _stop_later, cached[1])
            return pool, backends

    async def _notify_plain(self, zone: str, serial: int, targets: list[Endpoint]) -> Any:
        return await self.notify(zone, serial, targets, timeout=0.5, retries=2)

    async def close(self) -> None:
        for _, backends in self._pools.values():
            for b in backends:
                try:
                    await b.stop()
                except Exception:  # noqa: BLE001 - closing, nothing to do
                    log.debug("stopping backend failed", exc_info=True)
        self._pools.clear()


def _stop_later(backends: list[Backend]) -> None:
    for b in backends:
        asyncio.ensure_future(b.stop())


#: how long after its last run here a zone's changes still get an early NOTIFY from this worker
KNOWN_SECONDS = 10.0
#: at most one early update nudge of the targets per zone this often (PowerDNS: axfr-retrieve,
#: a full AXFR each; the NOTIFY goes out every round regardless)
EARLY_UPDATE_EVERY = 0.25


@dataclass(eq=False)
class _Known:
    """A zone that this worker is propagating (or did, within :data:`KNOWN_SECONDS`): where to
    send an early NOTIFY when another change of it is committed."""

    pool: PoolConfig
    backends: list[Backend]
    ref: ZoneRef
    until: float  # monotonic; infinite while a run is in flight
    busy: bool = False  # an early NOTIFY round is in flight
    again: bool = False  # another change arrived during that round
    updated_at: float = 0.0  # monotonic time of the last early update nudge of the targets


class Propagator:
    """Runs propagation jobs against pools read from the database."""

    def __init__(self, service: Service, settings: Settings, *, notify: NotifyFn | None = None):
        self.service = service
        self.settings = settings
        self.notify = notify or notifier()
        self.pools = PoolBackends(service.engine, self.notify)
        self.poll_timeout = settings.worker_poll_timeout
        self._reader = reader(service.engine)
        self._known: dict[str, _Known] = {}  # zone id → where its early NOTIFYs go
        self._background: set[asyncio.Task[None]] = set()
        self.nudged = 0  # early NOTIFY rounds sent (tests, logs)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.pools.close()

    def zone_changed(self, zone_id: str) -> bool:
        """A newer change of ``zone_id`` was committed (PostgreSQL LISTEN payload). If this
        worker is propagating the zone, or did a moment ago, NOTIFY its nameservers at once
        rather than after the job's bookkeeping and the next claim: the answerable lag of a
        change is then one NOTIFY plus one refresh, whatever the run cycle of its zone (BIND
        and Knot queue one more refresh behind a running one). Coalesced per zone: one round
        in flight, and one more after it when changes arrived meanwhile. The job's rules are
        unchanged: a run still confirms and marks every serial.

        Returns True while a run of the zone is in flight here: its job is leased to this
        worker, so nobody can claim the change now, and completing the run leaves the job
        pending and wakes this worker (a claim attempt per change would be wasted round
        trips: two per change under a stream of changes)."""
        known = self._known.get(zone_id)
        if known is None:
            return False
        if known.until < time.monotonic():
            del self._known[zone_id]
            return False
        if known.busy:
            known.again = True
        else:
            known.busy = True
            task = asyncio.create_task(self._early_notify(known))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return known.until == float("inf")

    def _know(self, zone_id: str, pool: PoolConfig, backends: list[Backend], ref: ZoneRef
              ) -> _Known:
        known = self._known.get(zone_id)
        if known is None:
            if len(self._known) > 10_000:
                now = time.monotonic()
                for zid in [z for z, k in self._known.items() if k.until < now]:
                    del self._known[zid]
            known = self._known[zone_id] = _Known(pool, backends, ref, float("inf"))
        known.pool, known.backends, known.ref, known.until = pool, backends, ref, float("inf")
        return known

    async def run(self, job: Job) -> Outcome:
        """Propagate the zone as it was when ``job`` was claimed."""
        zone = job.zone
        if zone is None or zone.deleted:
            return Outcome(ok=True, active=True)  # nothing left to do
        got = await self.pools.get(zone.pool_id, zone.pool_version)
        if got is None:
            return Outcome(ok=False, error=f"pool {zone.pool_id} does not exist")
        pool, backends = got
        deleting = zone.action == "DELETE"
        ref = ZoneRef(zone.id, zone.name, zone.serial, zone.pool_id)
        t0 = time.monotonic()
        timings: dict[str, float] = {}

        # 1. targets
        if deleting:
            op = "delete"
        elif zone.action == "CREATE" or job.attempts > 0 or job.payload.get("repair"):
            op = "create"
        else:
            op = "update"
        failed = await self._call_targets(backends, op, ref, bool(job.payload.get("hard_delete")))
        timings["targets"] = time.monotonic() - t0
        if backends and (len(backends) - len(failed)) * 100 < pool.threshold * len(backends):
            return Outcome(ok=False, error="; ".join(failed), timings=timings)

        # 2. NOTIFY everyone at once
        notify_task = None
        if not deleting:
            notify_task = asyncio.create_task(self._notify_all(pool, backends, ref))
            notify_task.add_done_callback(
                lambda _t: timings.__setitem__("notified", time.monotonic() - t0))

        known = None if deleting else self._know(zone.id, pool, backends, ref)
        if known is not None:
            known.updated_at = t0  # the targets were just called

        # 3. poll
        servers = [((n.host, n.port), self._tsig(pool, n)) for n in pool.nameservers]
        marking: list[asyncio.Task[str | None]] = []

        async def on_threshold() -> None:
            timings["threshold"] = time.monotonic() - t0
            # in the background: polling for the rest (and the job's completion) need not wait
            task = asyncio.create_task(self.service.mark_propagated(zone.id, zone.serial,
                                                                    deleted=deleting))
            task.add_done_callback(lambda _t: timings.__setitem__("marked",
                                                                  time.monotonic() - t0))
            marking.append(task)

        seen_first: dict[Endpoint, str] = {}
        renotified: list[int] = []

        async def renotify(laggards: dict[Endpoint, str]) -> None:
            renotified.append(len(laggards))
            if len(renotified) == 1:
                seen_first.update(laggards)
            elif op == "update" and any(seen_first.get(ep) == seen for ep, seen in laggards.items()):
                # A nameserver whose SOA did not move between the first re-NOTIFY (~1 s) and
                # this one (~3 s) is stuck, e.g. on failing incremental transfers; with changes
                # streaming in, the retry count is reset by every change, so a retry's "create"
                # repair may never come: repair now. The drivers' create_zone is idempotent;
                # BIND's forces a full retransfer. One that moves on is only slow (a loaded
                # machine): a forced full transfer would slow it down further.
                problems = await self._call_targets(backends, "create", ref, False)
                timings["repair"] = time.monotonic() - t0
                for p in problems:
                    log.warning("repair of %s: %s", zone.name, p)
            await self._notify_servers(pool, ref, [n for n in pool.nameservers
                                                   if (n.host, n.port) in laggards])
        try:
            try:
                result = await wait_for_serial(
                    servers, zone.name, zone.serial, deleted=deleting, threshold=pool.threshold,
                    deadline=time.monotonic() + self.poll_timeout, on_threshold=on_threshold,
                    renotify=renotify)
            except BaseException:
                for task in marking:  # let a started marking finish; its errors are moot here
                    await asyncio.gather(task, return_exceptions=True)
                raise
        finally:
            if known is not None:
                known.until = time.monotonic() + KNOWN_SECONDS
            else:  # deleted: no more early NOTIFYs
                self._known.pop(zone.id, None)
            if notify_task is not None:
                await asyncio.gather(notify_task, return_exceptions=True)
        timings["total"] = time.monotonic() - t0
        problems = [f"{h}:{p} {why}" for (h, p), why in result.lagging.items()] + failed
        if marking and not problems and not deleting:
            return Outcome(ok=True, active=True, timings=timings, marking=marking[0])
        if marking:
            await marking[0]  # raises like the inline marking did: the run is retried
        return Outcome(ok=not problems, active=bool(marking), error="; ".join(problems),
                       timings=timings)

    async def _early_notify(self, known: _Known) -> None:
        """NOTIFY rounds for ``known`` until no change arrived during the last one: a NOTIFY
        without a serial hint (the newer serial is not known here, and a secondary drops a
        NOTIFY whose serial is not newer than its own) and, while a run is in flight and at
        most every :data:`EARLY_UPDATE_EVERY`, the targets' update nudge (PowerDNS:
        axfr-retrieve; between runs the next run's own update follows at once). Best effort:
        the next run NOTIFYs and polls anyway."""
        try:
            while True:
                known.again = False
                self.nudged += 1
                stats["early_notifies"] += 1
                now = time.monotonic()
                if known.until == float("inf") and now - known.updated_at >= EARLY_UPDATE_EVERY:
                    known.updated_at = now
                    for p in await self._call_targets(known.backends, "update", known.ref,
                                                      False):
                        log.debug("early update of %s: %s", known.ref.name, p)
                await self._notify_all(known.pool, known.backends, known.ref, serial=None)
                if not known.again:
                    return
        except Exception:  # noqa: BLE001 - an optimisation must never break a run
            log.warning("early NOTIFY of %s failed", known.ref.name, exc_info=True)
        finally:
            known.busy = False

    async def _call_targets(self, backends: list[Backend], op: str, ref: ZoneRef,
                            hard_delete: bool) -> list[str]:
        async def one(b: Backend) -> str | None:
            try:
                async with asyncio.timeout(b.options.timeout + 1):
                    if op == "create":
                        await b.create_zone(ref)
                    elif op == "update":
                        await b.update_zone(ref)
                    else:
                        await b.delete_zone(ref, hard_delete)
                return None
            except (BackendError, TimeoutError, OSError) as exc:
                return f"target {b.target.type}/{b.target.id[:8]}: {exc or 'timed out'}"
            except Exception as exc:  # noqa: BLE001 - a broken driver must not kill the worker
                log.exception("backend %s crashed", b.target.type)
                return f"target {b.target.type}/{b.target.id[:8]}: {exc!r}"
        return [r for r in await asyncio.gather(*(one(b) for b in backends)) if r]

    def _tsig(self, pool: PoolConfig, server: PoolServer) -> Tsig | None:
        key = pool.tsigkeys.get(server.tsigkey_id) if server.tsigkey_id else None
        return Tsig(*key) if key else None

    async def _notify_servers(self, pool: PoolConfig, ref: ZoneRef,
                              servers: list[PoolServer], serial: int | None | bool = True) -> None:
        """NOTIFY ``servers`` about ``ref`` (with ``ref.serial`` as the hint unless ``serial`` is
        given; None: no hint)."""
        groups: dict[Tsig | None, list[Endpoint]] = {}
        for s in servers:
            ep = (s.host, s.port)
            lst = groups.setdefault(self._tsig(pool, s), [])
            if ep not in lst:
                lst.append(ep)
        hint = ref.serial if serial is True else serial
        calls = [self.notify(ref.name, hint, eps, tsig=tsig.key() if tsig else None,
                             timeout=0.5, retries=2)
                 for tsig, eps in groups.items()]
        for r in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(r, BaseException):
                log.warning("NOTIFY %s failed: %s", ref.name, r)

    async def _notify_all(self, pool: PoolConfig, backends: list[Backend], ref: ZoneRef,
                          serial: int | None | bool = True) -> None:
        servers = list(pool.nameservers) + list(pool.also_notifies)
        seen = {(s.host, s.port) for s in servers}
        for b in backends:
            ep = b.notify_endpoint
            if ep is not None and ep not in seen:
                seen.add(ep)
                servers.append(PoolServer(ep[0], ep[1], b.target.tsigkey and None))
        await self._notify_servers(pool, ref, servers, serial)
