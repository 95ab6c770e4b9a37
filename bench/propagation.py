"""Propagation benchmark: API response → record answerable at a real secondary, and → ACTIVE.

``python -m bench.propagation [--quick] [--peers bind,knot,pdns]`` (``make bench-propagation``).

For each peer (BIND 9, Knot, PowerDNS), on a fresh PostgreSQL database, with ``dnsaas api``
(noauth), ``dnsaas worker`` and ``dnsaas mdns`` as separate processes and the peer as the pool's
only target and nameserver:

1. **one at a time**: 200 recordset creates (A records) spread round-robin over 20 zones
   (60 over 6 with ``--quick``); after each POST returns, the secondary is polled every 2 ms
   for the record and the API every 5 ms for the recordset's status; latency from the POST's
   response to "answerable" and to "ACTIVE";
2. **sustained**: 200 creates/s for 30 s (10 s with ``--quick``), open loop; lag from each
   POST's response until the secondary answers the record (polled every 10 ms).

Prints a table and writes ``bench/results/propagation.json`` (``propagation-quick.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import glob
import json
import os
import platform
import random
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench._stack import CpuMeter, Stack, loadavg, make_database, make_pool, wait_active, wait_http
from dnsaas.testing.databases import asyncpg_dsn, drop_database
from dnsaas.testing.peers import BIND_SECONDARY_OPTIONS, BindServer, KnotServer, PowerDNSServer

RESULTS = Path(__file__).parent / "results"
PEERS: dict[str, type[BindServer | KnotServer | PowerDNSServer]] = {
    "bind": BindServer, "knot": KnotServer, "pdns": PowerDNSServer}
HEADERS = {"X-Auth-Project-ID": "bench", "X-Auth-User-ID": "bench", "X-Roles": "member",
           "Content-Type": "application/json"}


def pct(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) in ms, None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))
    return round(s[k] * 1000, 1)


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": pct(values, 50), "p95_ms": pct(values, 95),
            "p99_ms": pct(values, 99), "max_ms": pct(values, 100),
            "mean_ms": round(statistics.fmean(values) * 1000, 1) if values else None}


def worker_stats(log: Path) -> dict[str, int]:
    """The worker's latest counters (``dnsaas.worker.stats`` lines: SOA polls, early NOTIFY
    rounds, shared poll loops, runs); empty when none was logged yet."""
    last: dict[str, int] = {}
    with open(log, errors="replace") as f:
        for line in f:
            if "dnsaas.worker.stats: stats " in line:
                last = {k: int(v) for k, v in (kv.split("=") for kv in line.split(" stats ")[1].split())}
    return last


async def stats_mark(log: Path) -> dict[str, int]:
    """The counters once the worker has logged what the phase just did (it logs every second
    while they move)."""
    await asyncio.sleep(1.2)
    return worker_stats(log)


def stats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


class Prober(asyncio.DatagramProtocol):
    """A cheap DNS prober: one UDP socket, hand-built A queries, minimal response parsing.

    dnspython costs ~0.2 ms of CPU per query; thousands of probes per second would make the
    benchmark process itself the bottleneck on a 2-core machine."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[int, asyncio.Future[bytes]] = {}
        self.sent = 0
        self.unanswered = 0  # probes that timed out (each would delay a detection)

    @classmethod
    async def open(cls, port: int) -> Prober:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(cls, remote_addr=("127.0.0.1", port))
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) >= 12:
            fut = self.waiting.pop(int.from_bytes(data[:2], "big"), None)
            if fut is not None and not fut.done():
                fut.set_result(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def has_a(self, name: str, data: str, wait: float = 0.25) -> bool:
        """True when the server answers ``name`` A with ``data`` (NOERROR); False also when it
        does not answer within ``wait`` (counted in ``unanswered``)."""
        qid = random.randrange(65536)
        while qid in self.waiting:
            qid = random.randrange(65536)
        labels = name.rstrip(".").split(".")
        qname = b"".join(bytes([len(lb)]) + lb.encode() for lb in labels) + b"\0"
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiting[qid] = fut
        assert self.transport is not None
        self.transport.sendto(struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + qname + b"\0\1\0\1")
        self.sent += 1
        try:
            resp = await asyncio.wait_for(fut, wait)
        except TimeoutError:
            self.unanswered += 1
            return False
        finally:
            self.waiting.pop(qid, None)
        return _answers_a(resp, socket.inet_aton(data))


def _skip_name(msg: bytes, i: int) -> int:
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n >= 0xC0:
            return i + 2
        i += n + 1


def _answers_a(msg: bytes, want: bytes) -> bool:
    """True when ``msg`` is a NOERROR response with an A record whose rdata is ``want``."""
    try:
        flags, qd, an = struct.unpack_from("!HHH", msg, 2)
        if flags & 0xF:  # rcode
            return False
        i = 12
        for _ in range(qd):
            i = _skip_name(msg, i) + 4
        for _ in range(an):
            i = _skip_name(msg, i)
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", msg, i)
            i += 10
            if rtype == 1 and msg[i:i + rdlen] == want:
                return True
            i += rdlen
    except (IndexError, struct.error):
        return False
    return False


async def wait_answerable(probe: Prober, name: str, data: str, every: float,
                          limit: float = 30.0) -> float | None:
    """Monotonic time at which the peer answers ``name`` with ``data`` (None on timeout)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await probe.has_a(name, data):
            return time.monotonic()
        await asyncio.sleep(every)
    return None


async def wait_active_db(pg: Any, rs_id: str, every: float, limit: float = 30.0) -> float | None:
    """Monotonic time at which the recordset's status is ACTIVE in the database, i.e. what the
    API returns from then on (polling the API itself every few ms costs its CPU ~2 ms a GET,
    which on 2 cores slows down the very pipeline being measured)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await pg.fetchval("SELECT status FROM recordsets WHERE id = $1", rs_id) == "ACTIVE":
            return time.monotonic()
        await asyncio.sleep(every)
    return None


async def one_at_a_time(http: aiohttp.ClientSession, api: str, probe: Prober, pg: Any,
                        zones: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """``n`` creates, one at a time: API response → answerable (1 ms probes) and → ACTIVE
    (2 ms database reads, then confirmed by one API GET)."""
    to_answer: list[float] = []
    to_active: list[float] = []
    api_s: list[float] = []
    for i in range(n):
        z = zones[i % len(zones)]
        name = f"s{i}.{z['name']}"
        data = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        t_req = time.monotonic()
        async with http.post(f"{api}/zones/{z['id']}/recordsets", json={
                "name": name, "type": "A", "records": [data]}) as r:
            assert r.status == 202, await r.text()
            rs = await r.json()
        t0 = time.monotonic()
        api_s.append(t0 - t_req)
        ans, act = await asyncio.gather(wait_answerable(probe, name, data, 0.001),
                                        wait_active_db(pg, rs["id"], 0.002))
        if act is not None and await wait_active(
                http, f"{api}/zones/{z['id']}/recordsets/{rs['id']}", 0.005, limit=0.0) is None:
            act = None  # the API must agree
        if ans is not None:
            to_answer.append(ans - t0)
        if act is not None:
            to_active.append(act - t0)
        await asyncio.sleep(random.uniform(0.0, 0.02))  # no phase-locking with peer timers
    return {"creates": n, "zones": len(zones), "api_response": summary(api_s),
            "to_answerable": summary(to_answer), "to_active": summary(to_active),
            "not_answered": n - len(to_answer), "not_active": n - len(to_active)}


async def sustained(http: aiohttp.ClientSession, api: str, probe: Prober,
                    zones: list[dict[str, Any]], rate: float, seconds: float,
                    max_inflight: int = 24) -> dict[str, Any]:
    """Open loop: change i is due at ``start + i/rate`` whatever happened before; at most
    ``max_inflight`` POSTs are outstanding (a change waiting for a slot counts as late). Lag:
    POST response → the secondary answers the record, detected by one poller per zone that
    probes its oldest unanswered records every 5 ms. Bounded: nothing is issued after
    ``2 × seconds``, and the drain stops 30 s after the last response."""
    total = int(rate * seconds)
    sent0, unanswered0 = probe.sent, probe.unanswered
    pending: dict[str, list[tuple[str, str, float]]] = {z["id"]: [] for z in zones}
    lags: list[float] = []
    late: list[float] = []
    errors = 0
    statuses: collections.Counter[str] = collections.Counter()
    issued = 0
    slots = asyncio.Semaphore(max_inflight)
    done_posting = asyncio.Event()
    start = time.monotonic() + 0.1
    stop_issuing = start + 2 * seconds
    last_response = start

    async def post(i: int, due: float) -> None:
        nonlocal errors, last_response
        z = zones[i % len(zones)]
        name = f"l{i}.{z['name']}"
        data = f"10.{200 + i // 65536 % 50}.{i // 256 % 256}.{i % 256}"
        try:
            late.append(time.monotonic() - due)
            async with http.post(f"{api}/zones/{z['id']}/recordsets", json={
                    "name": name, "type": "A", "records": [data]}) as r:
                ok = r.status == 202
                body = await r.read()
                if not ok:
                    statuses[f"{r.status} {body[:80].decode(errors='replace')}"] += 1
        except aiohttp.ClientError as exc:
            ok = False
            statuses[type(exc).__name__] += 1
        finally:
            slots.release()
        t0 = time.monotonic()
        last_response = max(last_response, t0)
        if ok:
            pending[z["id"]].append((name, data, t0))
        else:
            errors += 1

    async def poller(zone_id: str) -> None:
        queue = pending[zone_id]
        while True:
            while queue:
                # oldest first; if the oldest is not there yet, try the newest (responses can
                # come back out of commit order), and then everything in between
                if await probe.has_a(*queue[0][:2]):
                    now = time.monotonic()
                    lags.append(now - queue.pop(0)[2])
                    continue
                if len(queue) > 1 and await probe.has_a(*queue[-1][:2]):
                    now = time.monotonic()
                    for item in list(queue[1:]):
                        if item is queue[-1] or await probe.has_a(*item[:2]):
                            lags.append(now - item[2])
                            queue.remove(item)
                break
            if done_posting.is_set() and not queue:
                return
            if done_posting.is_set() and time.monotonic() > last_response + 30:
                return
            await asyncio.sleep(0.005)

    pollers = [asyncio.create_task(poller(z["id"])) for z in zones]
    posts: set[asyncio.Task[None]] = set()
    for i in range(total):
        due = start + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        if time.monotonic() > stop_issuing:
            break
        await slots.acquire()
        task = asyncio.create_task(post(i, due))
        posts.add(task)
        task.add_done_callback(posts.discard)
        issued += 1
    if posts:
        await asyncio.gather(*posts)
    issue_seconds = last_response - start
    done_posting.set()
    await asyncio.gather(*pollers)
    missed = sum(len(q) for q in pending.values())
    return {"target_rate": rate, "seconds": seconds, "changes": total, "issued": issued,
            "accepted": issued - errors, "errors": errors, "error_kinds": dict(statuses),
            "achieved_rate": round((issued - errors) / issue_seconds, 1) if issue_seconds else None,
            "post_start_late": summary(late), "not_answered": missed, "lag": summary(lags),
            "probes_sent": probe.sent - sent0, "probes_unanswered": probe.unanswered - unanswered0}


async def bench_peer(kind: str, quick: bool, workdir: Path, *, rate: float,
                     api_workers: int) -> dict[str, Any]:
    n_zones, n_creates = (6, 60) if quick else (20, 200)
    seconds = 10 if quick else 30
    db_url = await make_database()
    stack = Stack(db_url, workdir, api_workers)
    stack.start()  # before the peer, so that the peer cannot take the api's or mdns's port
    peer = None
    probe = None
    phases: dict[str, Any] = {}
    try:
        await wait_http(f"{stack.api}/zones", workdir / "api.log")
        peer = PEERS[kind](primary=("127.0.0.1", stack.mdns_port)).start()
        await make_pool(kind, peer, stack)
        probe = await Prober.open(peer.port)
        pids = {name: p.pid for name, p in stack.procs.items()}
        assert peer.proc is not None
        pids[kind] = peer.proc.pid
        meter = CpuMeter(pids)
        conn = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(headers=HEADERS, connector=conn) as http:
            zones = []
            for i in range(n_zones):
                async with http.post(f"{stack.api}/zones", json={
                        "name": f"z{i}.{kind}.bench.test.", "email": "h@bench.test"}) as r:
                    assert r.status == 202, await r.text()
                    zones.append(await r.json())
            for z in zones:
                if await wait_active(http, f"{stack.api}/zones/{z['id']}", 0.01) is None:
                    # e.g. mdns failing transfers: measuring on a dead stack only wastes minutes
                    raise RuntimeError(f"zone {z['name']} not ACTIVE at the {kind} peer within "
                                       f"30 s; see mdns.log and worker.log (--keep-logs keeps {workdir})")
            meter.mark()
            wlog = workdir / "worker.log"
            counters = await stats_mark(wlog)

            load = loadavg()
            t = time.monotonic()
            pg = await asyncpg.connect(asyncpg_dsn(db_url))
            try:
                one = await one_at_a_time(http, stack.api, probe, pg, zones, n_creates)
            finally:
                await pg.close()
            phases["one_at_a_time"] = {"load_before": load, "load_after": loadavg(),
                                       "wall_s": round(time.monotonic() - t, 1),
                                       "cpu_s": meter.mark()}
            now = await stats_mark(wlog)
            phases["one_at_a_time"]["worker"] = stats_delta(counters, now)
            counters = now
            load = loadavg()
            t = time.monotonic()
            sus = await sustained(http, stack.api, probe, zones, rate, seconds)
            phases["sustained"] = {"load_before": load, "load_after": loadavg(),
                                   "wall_s": round(time.monotonic() - t, 1),
                                   "cpu_s": meter.mark()}
            phases["sustained"]["worker"] = stats_delta(counters, await stats_mark(wlog))
        return {"peer": kind, "api_workers": api_workers, "one_at_a_time": one,
                "sustained": sus, "phases": phases}
    finally:
        if probe is not None:
            probe.close()
        stack.stop()
        if peer is not None:
            if peer.workdir is not None:  # the peer's own logs, next to api/worker/mdns logs
                for log in [*glob.glob(os.path.join(peer.workdir, "*.log")),
                            *glob.glob(os.path.join(peer.workdir, "*.out"))]:
                    shutil.copy(log, workdir / f"{kind}-{os.path.basename(log)}")
            peer.stop()
        name = db_url.rsplit("/", 1)[1]
        try:
            await drop_database(name)
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass


def table(results: list[dict[str, Any]]) -> str:
    rows = [f"{'peer':6} {'answerable p50/p95/p99 ms':>26} {'ACTIVE p50/p95/p99 ms':>24} "
            f"{'rate/s (target)':>16} {'lag p50/p95/p99 ms':>22} {'n lag':>6} {'polls/chg':>9} "
            f"{'load (1-min)':>13}"]

    def trio(s: dict[str, Any]) -> str:
        return f"{s['p50_ms']}/{s['p95_ms']}/{s['p99_ms']}"
    for r in results:
        if "error" in r:
            rows.append(f"{r['peer']:6} failed: {r['error'].splitlines()[0]}")
            continue
        one, sus, ph = r["one_at_a_time"], r["sustained"], r["phases"]
        load = f"{ph['one_at_a_time']['load_before'][0]}/{ph['sustained']['load_after'][0]}"
        rate = f"{sus['achieved_rate']} ({sus['target_rate']:g})"
        polls = ph["sustained"].get("worker", {}).get("polls")
        per = f"{polls / sus['accepted']:.1f}" if polls is not None and sus["accepted"] else "-"
        rows.append(f"{r['peer']:6} {trio(one['to_answerable']):>26} {trio(one['to_active']):>24} "
                    f"{rate:>16} {trio(sus['lag']):>22} {sus['lag']['n']:>6} {per:>9} {load:>13}")
    return "\n".join(rows)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results = []
    for kind in args.peers.split(","):
        if not PEERS[kind].available():
            print(f"{kind}: not installed, skipped", file=sys.stderr)
            continue
        d = tempfile.mkdtemp(prefix=f"dnsaas-bench-{kind}-")
        print(f"{kind}: running (logs in {d})…", file=sys.stderr, flush=True)
        try:
            results.append(await bench_peer(kind, args.quick, Path(d), rate=args.rate,
                                            api_workers=args.api_workers))
        except Exception as exc:  # noqa: BLE001 - report the others anyway
            print(f"{kind}: failed: {exc}", file=sys.stderr)
            results.append({"peer": kind, "error": str(exc)[:2000]})
        if not args.keep_logs:
            shutil.rmtree(d, ignore_errors=True)
    return {"benchmark": "propagation", "quick": args.quick, "host": platform.node(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "driven_through": "REST API (dnsaas api, noauth) as a separate process",
            "bind_options": [o.strip() for o in BIND_SECONDARY_OPTIONS.splitlines()],
            "note": "load averages are of the whole (shared) machine; cpu_s are per process "
                    "(api incl. forked workers, the peer daemon, and this benchmark)",
            "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer changes, shorter run")
    parser.add_argument("--peers", default="bind,knot,pdns", help="comma-separated peers")
    parser.add_argument("--rate", type=float, default=200.0, help="sustained changes/s (200)")
    parser.add_argument("--api-workers", type=int, default=2,
                        help="dnsaas api --workers (default 2: one per core)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep each peer's work dir (api/worker/mdns logs)")
    parser.add_argument("--output", help="JSON path (default bench/results/propagation*.json)")
    args = parser.parse_args(argv)
    out = asyncio.run(main_async(args))
    print(table(out["results"]))
    RESULTS.mkdir(exist_ok=True)
    path = Path(args.output) if args.output else (
        RESULTS / ("propagation-quick.json" if args.quick else "propagation.json"))
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
