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
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import dns.asyncquery
import dns.message
import dns.rcode
import yaml

from dnsaas.settings import DEFAULT_POOL_ID, Settings
from dnsaas.storage import bootstrap, db
from dnsaas.testing.databases import _pg_exec, _with_db, pg_admin_url
from dnsaas.testing.peers import BindServer, KnotServer, PowerDNSServer
from dnsaas.testing.ports import free_port

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


def target(kind: str, peer: Any, mdns_port: int) -> dict[str, Any]:
    opts: dict[str, Any] = {"host": "127.0.0.1", "port": peer.port, "timeout": 10}
    if kind == "bind":
        opts.update(rndc_host="127.0.0.1", rndc_port=peer.rndc_port,
                    rndc_config_file=str(peer.rndc_conf))
        driver = "bind9"
    elif kind == "knot":
        opts.update(socket=str(peer.socket), template="secondary")
        driver = "knot"
    else:
        opts.update(api_endpoint=f"http://127.0.0.1:{peer.api_port}", api_token=peer.api_key)
        driver = "pdns"
    return {"type": driver, "masters": [{"host": "127.0.0.1", "port": mdns_port}],
            "options": opts}


async def make_database() -> str:
    name = f"dnsaas_bench_prop_{uuid.uuid4().hex[:8]}"
    await _pg_exec(f'CREATE DATABASE "{name}"')
    url = _with_db(pg_admin_url(), name)
    engine = db.create_engine(url)
    try:
        await bootstrap.prepare(engine, Settings(database_url=url), auto_migrate=True)
    finally:
        await engine.dispose()
    return url


class Stack:
    """api, worker and mdns as separate ``dnsaas`` processes."""

    def __init__(self, db_url: str, workdir: Path):
        self.db_url, self.dir = db_url, workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.api_port, self.mdns_port = free_port(), free_port()

    def run(self, *args: str, name: str) -> subprocess.CompletedProcess[bytes] | None:
        env = {**os.environ, "DNSAAS_DATABASE_URL": self.db_url, "DNSAAS_AUTH": "noauth",
               "DNSAAS_QUOTAS__ZONES": "-1", "DNSAAS_QUOTAS__ZONE_RECORDSETS": "-1",
               "DNSAAS_QUOTAS__ZONE_RECORDS": "-1"}
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "dnsaas.cli", "--log-level", "WARNING", *args],
            stdout=log, stderr=subprocess.STDOUT, env=env))
        return None

    def start(self) -> None:
        self.run("mdns", "--port", str(self.mdns_port), name="mdns")
        self.run("worker", "--concurrency", "64", name="worker")
        self.run("api", "--port", str(self.api_port), "--no-access-log", name="api")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/v2"


async def answers(port: int, name: str, rdtype: str = "A") -> list[str]:
    q = dns.message.make_query(name, rdtype)
    try:
        r = await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=0.5)
    except Exception:  # noqa: BLE001 - not there yet
        return []
    if r.rcode() != dns.rcode.NOERROR:
        return []
    return [rd.to_text() for rrset in r.answer for rd in rrset]


async def wait_answerable(port: int, name: str, data: str, every: float,
                          limit: float = 30.0) -> float | None:
    """Monotonic time at which the peer answers ``name`` with ``data`` (None on timeout)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if data in await answers(port, name):
            return time.monotonic()
        await asyncio.sleep(every)
    return None


async def wait_active(http: aiohttp.ClientSession, url: str, every: float,
                      limit: float = 30.0) -> float | None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        async with http.get(url) as r:
            body = await r.json()
        if body.get("status") == "ACTIVE":
            return time.monotonic()
        await asyncio.sleep(every)
    return None


async def wait_http(url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        while True:
            try:
                async with http.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""  # noqa: ASYNC240
                raise RuntimeError(f"{url} did not come up\n{tail}")
            await asyncio.sleep(0.05)


async def bench_peer(kind: str, quick: bool, workdir: Path) -> dict[str, Any]:
    n_zones, n_creates = (6, 60) if quick else (20, 200)
    rate, seconds = 200, (10 if quick else 30)
    db_url = await make_database()
    stack = Stack(db_url, workdir)
    stack.start()  # before the peer, so that the peer cannot take the api's or mdns's port
    peer = None
    try:
        await wait_http(f"{stack.api}/zones", workdir / "api.log")
        peer = PEERS[kind](primary=("127.0.0.1", stack.mdns_port)).start()
        pools = [{"name": "default", "id": DEFAULT_POOL_ID, "attributes": {},
                  "ns_records": [{"hostname": "ns1.bench.test.", "priority": 1}],
                  "nameservers": [{"host": "127.0.0.1", "port": peer.port}],
                  "targets": [target(kind, peer, stack.mdns_port)]}]
        pool_file = workdir / "pools.yaml"
        pool_file.write_text(yaml.safe_dump(pools))
        await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "dnsaas.cli", "pool", "update", "--database", db_url, "--file",
            str(pool_file)], check=True, capture_output=True)
        async with aiohttp.ClientSession(headers=HEADERS) as http:
            zones = []
            for i in range(n_zones):
                async with http.post(f"{stack.api}/zones", json={
                        "name": f"z{i}.{kind}.bench.test.", "email": "h@bench.test"}) as r:
                    assert r.status == 202, await r.text()
                    zones.append(await r.json())
            for z in zones:
                await wait_active(http, f"{stack.api}/zones/{z['id']}", 0.01)

            # 1. one at a time
            to_answer: list[float] = []
            to_active: list[float] = []
            api_ms: list[float] = []
            for i in range(n_creates):
                z = zones[i % n_zones]
                name = f"s{i}.{z['name']}"
                data = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
                t_req = time.monotonic()
                async with http.post(f"{stack.api}/zones/{z['id']}/recordsets", json={
                        "name": name, "type": "A", "records": [data]}) as r:
                    assert r.status == 202, await r.text()
                    rs = await r.json()
                t0 = time.monotonic()
                api_ms.append(t0 - t_req)
                ans, act = await asyncio.gather(
                    wait_answerable(peer.port, name, data, 0.002),
                    wait_active(http, f"{stack.api}/zones/{z['id']}/recordsets/{rs['id']}",
                                0.005))
                if ans is not None:
                    to_answer.append(ans - t0)
                if act is not None:
                    to_active.append(act - t0)

            # 2. sustained
            lags: list[float] = []
            missed = 0
            errors = 0
            start = time.monotonic() + 0.1
            total = rate * seconds
            sem = asyncio.Semaphore(400)

            async def one(i: int) -> None:
                nonlocal missed, errors
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                z = zones[i % n_zones]
                name = f"l{i}.{z['name']}"
                data = f"10.{200 + i // 65536 % 50}.{i // 256 % 256}.{i % 256}"
                async with sem:
                    try:
                        async with http.post(f"{stack.api}/zones/{z['id']}/recordsets", json={
                                "name": name, "type": "A", "records": [data]}) as r:
                            if r.status != 202:
                                errors += 1
                                return
                    except aiohttp.ClientError:
                        errors += 1
                        return
                    t0 = time.monotonic()
                    got = await wait_answerable(peer.port, name, data, 0.01, limit=60)
                if got is None:
                    missed += 1
                else:
                    lags.append(got - t0)
            await asyncio.gather(*(one(i) for i in range(total)))
            elapsed = time.monotonic() - start
        return {
            "peer": kind,
            "one_at_a_time": {"creates": n_creates, "zones": n_zones,
                              "api_response": summary(api_ms),
                              "to_answerable": summary(to_answer),
                              "to_active": summary(to_active)},
            "sustained": {"target_rate": rate, "seconds": seconds, "changes": total,
                          "achieved_rate": round(total / elapsed, 1), "errors": errors,
                          "not_answered": missed, "lag": summary(lags)},
        }
    finally:
        stack.stop()
        if peer is not None:
            peer.stop()
        name = db_url.rsplit("/", 1)[1]
        try:
            await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass


def table(results: list[dict[str, Any]]) -> str:
    rows = [f"{'peer':6} {'answerable p50/p95/p99 ms':>28} {'ACTIVE p50/p95/p99 ms':>26} "
            f"{'sustained rate':>15} {'lag p50/p95/p99 ms':>24}"]

    def trio(s: dict[str, Any]) -> str:
        return f"{s['p50_ms']}/{s['p95_ms']}/{s['p99_ms']}"
    for r in results:
        if "error" in r:
            rows.append(f"{r['peer']:6} failed: {r['error'].splitlines()[0]}")
            continue
        one, sus = r["one_at_a_time"], r["sustained"]
        rows.append(f"{r['peer']:6} {trio(one['to_answerable']):>28} {trio(one['to_active']):>26} "
                    f"{sus['achieved_rate']:>11}/s   {trio(sus['lag']):>24}")
    return "\n".join(rows)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results = []
    for kind in args.peers.split(","):
        if not PEERS[kind].available():
            print(f"{kind}: not installed, skipped", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory(prefix=f"dnsaas-bench-{kind}-") as d:
            print(f"{kind}: running…", file=sys.stderr, flush=True)
            try:
                results.append(await bench_peer(kind, args.quick, Path(d)))
            except Exception as exc:  # noqa: BLE001 - report the others anyway
                print(f"{kind}: failed: {exc}", file=sys.stderr)
                results.append({"peer": kind, "error": str(exc)[:2000]})
    return {"benchmark": "propagation", "quick": args.quick, "host": platform.node(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "driven_through": "REST API (dnsaas api, noauth) as a separate process",
            "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer changes, shorter run")
    parser.add_argument("--peers", default="bind,knot,pdns", help="comma-separated peers")
    args = parser.parse_args(argv)
    out = asyncio.run(main_async(args))
    print(table(out["results"]))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("propagation-quick.json" if args.quick else "propagation.json")
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
