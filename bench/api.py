"""REST API benchmark: ``dnsaas api`` on PostgreSQL in its own process, this process as the
load generator (aiohttp client, token auth).

Measures recordset creates/s at concurrency 1, 8 and 32 (each client writes to its own zone,
as tenants do; one extra row has all 32 clients on one zone, where every create serialises on
the zone's row lock because each one raises the zone serial), zone GET/s and recordset-list
GET/s at concurrency 32, with latency percentiles and error counts. Prints a table and writes
``bench/results/api.json`` (``api-quick.json`` with ``--quick``).

    python -m bench.api            # 5,000 creates per concurrency level, 20,000 GETs
    python -m bench.api --quick    # 500 creates, 2,000 GETs (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from dnsaas.testing.databases import drop_database, recreate_database
from dnsaas.testing.ports import free_port

RESULTS = Path(__file__).parent / "results"
PROJECT = "bench-project"
TARGETS = {"creates_per_s_c32": 1000.0, "gets_per_s_c32": 3000.0}


@dataclass
class Row:
    """One measured scenario."""

    scenario: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    api_cpu_ms_per_req: float


def dnsaas_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dnsaas.cli", "--log-level", "WARNING", *args]


class ApiProcess:
    """``dnsaas api`` in a subprocess on a free port."""

    def __init__(self, url: str, port: int, workers: int = 1):
        self.url, self.port, self.workers = url, port, workers
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "DNSAAS_AUTH": "token"}
        return subprocess.Popen(
            dnsaas_cmd("api", "--database", self.url, "--host", "127.0.0.1", "--port",
                       str(self.port), "--no-access-log", "--workers", str(self.workers)),
            env=env)

    async def __aenter__(self) -> ApiProcess:
        self.proc = self._spawn()
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"dnsaas api exited with {self.proc.returncode}")
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/healthcheck") as r:
                        if r.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("dnsaas api did not come up in 30 s")
                await asyncio.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User + system CPU time the API processes have used so far (Linux /proc)."""
        assert self.proc is not None
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total = 0
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except FileNotFoundError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    async def __aexit__(self, *_exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(self.proc.wait, 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


async def run_load(api: ApiProcess, concurrency: int, total: int,
                   make: Any) -> tuple[list[float], int, float, float]:
    """``total`` requests from ``concurrency`` clients; ``make(client, i)`` does one request
    and returns its status. Returns (latencies in s, errors, wall s, API CPU s)."""
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0

    async def client(cid: int) -> None:
        nonlocal errors
        for i in counter:
            t0 = time.perf_counter()
            try:
                status = await make(cid, i)
            except aiohttp.ClientError:
                status = 0
            latencies.append(time.perf_counter() - t0)
            if not 200 <= status < 300:
                errors += 1
    t0, cpu0 = time.perf_counter(), api.cpu_seconds()
    await asyncio.gather(*(client(c) for c in range(concurrency)))
    return latencies, errors, time.perf_counter() - t0, api.cpu_seconds() - cpu0


def row(scenario: str, concurrency: int, result: tuple[list[float], int, float, float]) -> Row:
    lat, errors, wall, cpu = result
    lat_ms = sorted(x * 1000 for x in lat)
    p99 = lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))]
    return Row(scenario, concurrency, len(lat), errors, round(wall, 3),
               round(len(lat) / wall, 1), round(statistics.median(lat_ms), 2), round(p99, 2),
               round(cpu * 1000 / max(1, len(lat)), 3))


async def bench(api: ApiProcess, token: str, creates: int, gets: int) -> list[Row]:
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    rows: list[Row] = []
    connector = aiohttp.TCPConnector(limit=64)
    base = f"http://127.0.0.1:{api.port}"
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as session:
        async with session.patch(f"/v2/quotas/{PROJECT}", json={
                "zones": -1, "zone_recordsets": -1, "zone_records": -1,
                "recordset_records": -1}, headers={"X-Auth-All-Projects": "true"}) as r:
            assert r.status == 200, await r.text()
        zones: list[str] = []
        for i in range(33):
            async with session.post("/v2/zones", json={"name": f"z{i}.bench.test.",
                                                       "email": "h@bench.test"}) as r:
                assert r.status == 202, await r.text()
                zones.append((await r.json())["id"])

        names = {z: (await (await session.get(f"/v2/zones/{z}")).json())["name"] for z in zones}

        async def create(cid: int, _i: int) -> int:
            zone_id = zones[cid]
            body = {"name": f"r{uuid.uuid4().hex[:12]}.{names[zone_id]}", "type": "A",
                    "records": ["192.0.2.1"]}
            async with session.post(f"/v2/zones/{zone_id}/recordsets", json=body) as r:
                await r.read()
                return r.status

        async def create_one_zone(_cid: int, _i: int) -> int:
            zone_id = zones[32]
            body = {"name": f"r{uuid.uuid4().hex[:12]}.{names[zone_id]}", "type": "A",
                    "records": ["192.0.2.1"]}
            async with session.post(f"/v2/zones/{zone_id}/recordsets", json=body) as r:
                await r.read()
                return r.status

        # Warm up connections, caches and the server's statement cache.
        await run_load(api, 32, 320, create)
        for c in (1, 8, 32):
            rows.append(row("recordset create (zone per client)", c,
                            await run_load(api, c, creates, create)))
        rows.append(row("recordset create (one zone)", 32,
                        await run_load(api, 32, creates, create_one_zone)))

        async def get_zone(cid: int, _i: int) -> int:
            async with session.get(f"/v2/zones/{zones[cid]}") as r:
                await r.read()
                return r.status

        async def list_recordsets(cid: int, _i: int) -> int:
            async with session.get(f"/v2/zones/{zones[cid]}/recordsets") as r:
                await r.read()
                return r.status
        async def versions(_cid: int, _i: int) -> int:
            async with session.get("/v2") as r:
                await r.read()
                return r.status
        await run_load(api, 32, 500, get_zone)
        rows.append(row("versions GET (no database)", 32, await run_load(api, 32, gets, versions)))
        rows.append(row("zone GET", 32, await run_load(api, 32, gets, get_zone)))
        rows.append(row("recordset list GET (20 per page)", 32,
                        await run_load(api, 32, gets, list_recordsets)))
    return rows


def table(rows: list[Row]) -> str:
    head = f"{'scenario':38} {'conc':>4} {'reqs':>6} {'errors':>6} {'req/s':>9} " \
           f"{'p50 ms':>8} {'p99 ms':>8} {'API CPU ms/req':>15}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.scenario:38} {r.concurrency:>4} {r.requests:>6} {r.errors:>6} "
                     f"{r.per_second:>9.1f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
                     f"{r.api_cpu_ms_per_req:>15.3f}")
    return "\n".join(lines)


async def main_async(quick: bool, workers: int, creates: int | None = None,
                     gets: int | None = None) -> dict[str, Any]:
    creates = creates or (500 if quick else 5000)
    gets = gets or (2000 if quick else 20000)
    load_before = os.getloadavg()
    name = f"dnsaas_bench_api_{os.getpid()}"
    url = await recreate_database(name)
    try:
        up = await asyncio.to_thread(subprocess.run, dnsaas_cmd("db", "upgrade", "--database",
                                                                url), capture_output=True)
        assert up.returncode == 0, up.stderr
        made = await asyncio.to_thread(subprocess.run, dnsaas_cmd(
            "token", "create", "--database", url, "--project", PROJECT, "--roles",
            "admin,member"), capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        port = free_port()
        async with ApiProcess(url, port, workers) as api:
            rows = await bench(api, token, creates, gets)
    finally:
        await drop_database(name)
    by = {(r.scenario, r.concurrency): r for r in rows}
    c32 = by[("recordset create (zone per client)", 32)].per_second
    get32 = min(by[("zone GET", 32)].per_second,
                by[("recordset list GET (20 per page)", 32)].per_second)
    return {
        "benchmark": "api",
        "quick": quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "setup": f"dnsaas api ({workers} worker process(es), token auth, no access log) on "
                 "PostgreSQL; load generator: 1 process, aiohttp client, keep-alive",
        "load_average_before": [round(x, 2) for x in load_before],
        "workers": workers,
        "rows": [asdict(r) for r in rows],
        "targets": TARGETS,
        "met": {"creates_per_s_c32": c32 >= TARGETS["creates_per_s_c32"],
                "gets_per_s_c32": get32 >= TARGETS["gets_per_s_c32"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (CI)")
    parser.add_argument("--workers", type=int, default=1, help="dnsaas api worker processes")
    parser.add_argument("--creates", type=int, help="creates per concurrency level")
    parser.add_argument("--gets", type=int, help="GETs per GET scenario")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.quick, args.workers, args.creates, args.gets))
    print(table([Row(**r) for r in result["rows"]]))
    print(f"targets {TARGETS} met: {result['met']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("api-quick.json" if args.quick else "api.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
