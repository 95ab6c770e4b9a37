"""REST API benchmark: ``dnsaas api`` on PostgreSQL in its own process, the load generator in
another: ``wrk`` (one thread per connection, bodies made by a Lua script) when it is installed,
else an aiohttp client in this process (``--generator python``), token auth.

Measures recordset creates/s at concurrency 1, 8 and 32 (each client writes to its own zone,
as tenants do; one extra row has all 32 clients on one zone, where every create serialises on
the zone's row lock because each one raises the zone serial), zone GET/s and recordset-list
GET/s (first pages, and second pages after a marker) at concurrency 32, with latency
percentiles and error counts. Prints a table and writes ``bench/results/api.json``
(``api-quick.json`` with ``--quick``).

    python -m bench.api            # 5,000 creates per concurrency level, 20,000 GETs
    python -m bench.api --quick    # 500 creates, 2,000 GETs (CI)

The table shows the CPU time per request of the API process(es), of the PostgreSQL backends
serving the bench database (when the server is local) and of the load generator.
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
import asyncpg
import sqlalchemy as sa

from bench import wrkload
from dnsaas.testing.apiproc import wait_until_serving
from dnsaas.testing.databases import asyncpg_dsn, drop_database, recreate_database
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
    generator_cpu_ms_per_req: float = 0.0
    db_cpu_ms_per_req: float | None = None  # PostgreSQL backends of the bench database


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a local process (Linux /proc), None when not visible."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, PermissionError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DbCpu:
    """CPU used by the PostgreSQL backends serving the bench database, when the server runs on
    this machine (their pids from pg_stat_activity, their CPU from /proc)."""

    def __init__(self, url: str):
        self.url = url
        self.conn: asyncpg.Connection | None = None

    async def snapshot(self) -> dict[int, float] | None:
        if self.conn is None:
            self.conn = await asyncpg.connect(asyncpg_dsn(self.url))
        pids = await self.conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = "
                                     "current_database() AND pid <> pg_backend_pid()")
        out = {r["pid"]: proc_cpu_seconds(r["pid"]) for r in pids}
        if any(v is None for v in out.values()):
            return None  # a remote server (or no permission): not measured
        return {k: v for k, v in out.items() if v is not None}

    @staticmethod
    def used(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
        if before is None or after is None:
            return None
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


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
        await wait_until_serving(f"http://127.0.0.1:{self.port}", self.proc)
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU time the API processes have used so far (Linux /proc)."""
        assert self.proc is not None
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return sum(proc_cpu_seconds(pid) or 0.0 for pid in pids)

    async def __aexit__(self, *_exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(self.proc.wait, 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


@dataclass
class Load:
    """One measured load: client ``i`` sends ``method`` to ``paths[i]``; a non-empty
    ``zones[i]`` makes each request a recordset create with a new name in that zone."""

    method: str
    paths: list[str]
    zones: list[str]


async def python_load(api: ApiProcess, session: aiohttp.ClientSession, load: Load,
                      total: int) -> tuple[list[float], int, float, float, float]:
    """``total`` requests from aiohttp clients in this process (the fallback generator).
    Returns (latencies in s, errors, wall s, API CPU s, generator CPU s)."""
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0

    async def client(cid: int) -> None:
        nonlocal errors
        path, zone = load.paths[cid], load.zones[cid]
        for _ in counter:
            body = None
            if zone:
                body = {"name": f"r{uuid.uuid4().hex[:12]}.{zone}", "type": "A",
                        "records": ["192.0.2.1"]}
            t0 = time.perf_counter()
            try:
                async with session.request(load.method, path, json=body) as r:
                    await r.read()
                    status = r.status
            except aiohttp.ClientError:
                status = 0
            latencies.append(time.perf_counter() - t0)
            if not 200 <= status < 300:
                errors += 1
    t0, cpu0, gen0 = time.perf_counter(), api.cpu_seconds(), time.process_time()
    await asyncio.gather(*(client(c) for c in range(len(load.paths))))
    return (latencies, errors, time.perf_counter() - t0, api.cpu_seconds() - cpu0,
            time.process_time() - gen0)


class Runner:
    """Runs loads with wrk (another process) or, without wrk, the in-process fallback."""

    def __init__(self, api: ApiProcess, session: aiohttp.ClientSession, token: str,
                 generator: str, db_cpu: DbCpu):
        self.api, self.session, self.token, self.generator = api, session, token, generator
        self.db_cpu = db_cpu
        self.runs = 0

    async def row(self, scenario: str, load: Load, total: int) -> Row:
        concurrency = len(load.paths)
        db0 = await self.db_cpu.snapshot()
        if self.generator == "python":
            lat, errors, wall, cpu, gen = await python_load(self.api, self.session, load, total)
            lat_ms = sorted(x * 1000 for x in lat)
            p50, p99 = statistics.median(lat_ms), lat_ms[min(len(lat_ms) - 1,
                                                             int(len(lat_ms) * 0.99))]
            done = len(lat)
        else:
            self.runs += 1
            tag = f"{os.getpid():x}{self.runs}"
            cpu0 = self.api.cpu_seconds()
            res = await wrkload.run(f"http://127.0.0.1:{self.api.port}", load.method, load.paths,
                                    load.zones, self.token, total, tag)
            cpu = self.api.cpu_seconds() - cpu0
            done, errors, wall, p50, p99, gen = (res.requests, res.errors, res.seconds,
                                                 res.p50_ms, res.p99_ms, res.generator_cpu_s)
        db = DbCpu.used(db0, await self.db_cpu.snapshot())
        return Row(scenario, concurrency, done, errors, round(wall, 3), round(done / wall, 1),
                   round(p50, 2), round(p99, 2), round(cpu * 1000 / max(1, done), 3),
                   round(gen * 1000 / max(1, done), 3),
                   None if db is None else round(db * 1000 / max(1, done), 3))


async def bench(api: ApiProcess, token: str, creates: int, gets: int,
                generator: str, db_cpu: DbCpu) -> list[Row]:
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    rows: list[Row] = []
    connector = aiohttp.TCPConnector(limit=64)
    base = f"http://127.0.0.1:{api.port}"
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as session:
        async with session.patch(f"/v2/quotas/{PROJECT}", json={
                "zones": -1, "zone_recordsets": -1, "zone_records": -1,
                "recordset_records": -1}, headers={"X-Auth-All-Projects": "true"}) as r:
            assert r.status == 200, await r.text()
        zones: list[tuple[str, str]] = []
        for i in range(33):
            async with session.post("/v2/zones", json={"name": f"z{i}.bench.test.",
                                                       "email": "h@bench.test"}) as r:
                assert r.status == 202, await r.text()
                body = await r.json()
                zones.append((body["id"], body["name"]))
        runner = Runner(api, session, token, generator, db_cpu)

        def creates_on(clients: list[tuple[str, str]]) -> Load:
            return Load("POST", [f"/v2/zones/{z}/recordsets" for z, _ in clients],
                        [name for _, name in clients])

        def gets_of(paths: list[str]) -> Load:
            return Load("GET", paths, [""] * len(paths))

        # Warm up connections, caches and the server's statement cache.
        await runner.row("warm-up", creates_on(zones[:32]), 320)
        for c in (1, 8, 32):
            rows.append(await runner.row("recordset create (zone per client)",
                                         creates_on(zones[:c]), creates))
        rows.append(await runner.row("recordset create (one zone)", creates_on([zones[32]] * 32),
                                     creates))
        zone_gets = gets_of([f"/v2/zones/{z}" for z, _ in zones[:32]])
        await runner.row("warm-up", zone_gets, 500)
        rows.append(await runner.row("versions GET (no database)", gets_of(["/v2"] * 32), gets))
        rows.append(await runner.row("zone GET", zone_gets, gets))
        rows.append(await runner.row("recordset list GET (20 per page)",
                                     gets_of([f"/v2/zones/{z}/recordsets" for z, _ in zones[:32]]),
                                     gets))
        second: list[str] = []  # each zone's second page (after its first page's last item)
        for z, _ in zones[:32]:
            async with session.get(f"/v2/zones/{z}/recordsets") as r:
                last = (await r.json())["recordsets"][-1]["id"]
            second.append(f"/v2/zones/{z}/recordsets?marker={last}")
        rows.append(await runner.row("recordset list GET, page 2 (marker)", gets_of(second),
                                     gets))
    return rows


def table(rows: list[Row]) -> str:
    head = f"{'scenario':38} {'conc':>4} {'reqs':>6} {'errors':>6} {'req/s':>9} " \
           f"{'p50 ms':>8} {'p99 ms':>8} {'API CPU ms/req':>15} {'DB CPU ms/req':>14} " \
           f"{'gen CPU ms/req':>15}"
    lines = [head, "-" * len(head)]
    for r in rows:
        db = "-" if r.db_cpu_ms_per_req is None else f"{r.db_cpu_ms_per_req:.3f}"
        lines.append(f"{r.scenario:38} {r.concurrency:>4} {r.requests:>6} {r.errors:>6} "
                     f"{r.per_second:>9.1f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
                     f"{r.api_cpu_ms_per_req:>15.3f} {db:>14} {r.generator_cpu_ms_per_req:>15.3f}")
    return "\n".join(lines)


GENERATORS = {
    "wrk": "wrk in its own process, one thread per connection, keep-alive, Lua-made bodies",
    "python": "aiohttp client in the benchmark process, keep-alive (several times wrk's CPU "
              "per request, taken from the cores the API and PostgreSQL share)",
}


def pick_generator(wanted: str) -> str:
    """``auto`` is wrk when installed, else the Python generator (with a message)."""
    if wanted == "auto":
        if wrkload.available():
            return "wrk"
        print("bench/api: wrk not found (Debian: apt-get install -y wrk); using the slower "
              "in-process Python load generator, whose CPU use lowers the API's figures",
              file=sys.stderr)
        return "python"
    if wanted == "wrk" and not wrkload.available():
        raise SystemExit("wrk not found: apt-get install -y wrk, or --generator python")
    return wanted


async def unix_socket_url(url: str) -> str | None:
    """The same database over the server's Unix-domain socket when the server is local and
    answers there (what a same-host deployment uses: no loopback TCP stack per round trip)."""
    u = sa.make_url(url)
    if u.host not in ("127.0.0.1", "localhost", "::1"):
        return None
    for folder in ("/var/run/postgresql", "/tmp"):
        if os.path.exists(f"{folder}/.s.PGSQL.{u.port or 5432}"):  # noqa: ASYNC240 (instant)
            local = u.set(host=None, port=None, query={"host": folder})
            try:
                conn = await asyncpg.connect(asyncpg_dsn(local.render_as_string(False)),
                                             timeout=5)
            except (OSError, asyncpg.PostgresError):
                continue
            await conn.close()
            return local.render_as_string(hide_password=False)
    return None


async def main_async(quick: bool, workers: int, creates: int | None = None,
                     gets: int | None = None, generator: str = "auto",
                     db_transport: str = "auto") -> dict[str, Any]:
    generator = pick_generator(generator)
    creates = creates or (500 if quick else 5000)
    gets = gets or (2000 if quick else 20000)
    load_before = os.getloadavg()
    name = f"dnsaas_bench_api_{os.getpid()}"
    url = await recreate_database(name)
    transport = "tcp"
    if db_transport == "auto" and (local := await unix_socket_url(url)) is not None:
        url, transport = local, "unix"
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
            db_cpu = DbCpu(url)
            try:
                rows = await bench(api, token, creates, gets, generator, db_cpu)
            finally:
                await db_cpu.close()
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
                 f"PostgreSQL over {'its Unix socket' if transport == 'unix' else 'loopback TCP'}; "
                 f"load generator: {GENERATORS[generator]}",
        "generator": generator,
        "db_transport": transport,
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
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="dnsaas api worker processes (default: one per CPU)")
    parser.add_argument("--creates", type=int, help="creates per concurrency level")
    parser.add_argument("--gets", type=int, help="GETs per GET scenario")
    parser.add_argument("--generator", choices=("auto", *GENERATORS), default="auto",
                        help="load generator (auto: wrk when installed)")
    parser.add_argument("--db-transport", choices=("auto", "tcp"), default="auto",
                        help="auto: PostgreSQL's Unix socket when the server is local, else TCP")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.quick, args.workers, args.creates, args.gets,
                                    args.generator, args.db_transport))
    print(result["setup"])
    print(table([Row(**r) for r in result["rows"]]))
    print(f"targets {TARGETS} met: {result['met']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("api-quick.json" if args.quick else "api.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
