"""Zone import benchmark: a zone file POSTed to the real API (``text/dns``) until the import task
is COMPLETE, on PostgreSQL (the production store) and SQLite; and end to end, until the zone is
ACTIVE and served by a BIND secondary.

The files mix A, AAAA, TXT and MX records (one recordset each) as BIND writes them. The time
runs from the POST to the GET that shows COMPLETE (parse + validate every record + one bulk
insert transaction + one job); records/s is records / that time. CPU seconds are reported per
part, since on a busy machine they are the better guide: the API process (API, import task,
client, SQLite), the zone-file worker process, and the PostgreSQL server processes of the bench
database (read from /proc; local server only), with the 1-minute load average before/after and
the slowest task GET while the import ran. Meanwhile another client (another project) GETs
``/v2/zones?limit=1`` every 20 ms: the slowest of those (``get max ms``) and their p99 show how
responsive the API stayed for everybody else; ``idle`` is the same probe before the import.

**To BIND** (PostgreSQL, skipped with ``--no-bind`` or without BIND): ``dnsaas api``, ``dnsaas
worker`` and ``dnsaas mdns`` as separate processes (:mod:`bench._stack`, as in
:mod:`bench.propagation`) with a BIND 9 secondary as the pool's target (``bind9`` backend,
rndc addzone). Times from the POST to the task COMPLETE, to the zone ACTIVE in the API, and to
BIND answering SOA at the imported serial (BIND swaps a zone in only after a whole AXFR); then
an AXFR from BIND is counted (all records there?) and one record is looked up (spot check).

Prints tables and writes ``bench/results/import.json`` (``import-quick.json`` with ``--quick``).

    python -m bench.import_zone            # 10,000 and 100,000 records
    python -m bench.import_zone --quick    # 10,000 records only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import sqlalchemy as sa
from aiohttp import web

from api.app import create_app, warm_parser
from bench._stack import CpuMeter, Stack, make_database, make_pool, wait_http
from dnsaas import parsepool
from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.settings import Settings
from dnsaas.storage import bootstrap, db
from dnsaas.testing.databases import (
    asyncpg_dsn,
    drop_database,
    pg_admin_url,
    postgres_available,
    recreate_database,
)
from dnsaas.testing.peers import BindServer

RESULTS = Path(__file__).parent / "results"
_TICK = os.sysconf("SC_CLK_TCK")
HEADERS = {"X-Auth-Project-ID": "bench", "X-Roles": "member", "Content-Type": "text/dns"}
OWNER = {"X-Auth-Project-ID": "bench", "X-Roles": "member"}
OTHER = {"X-Auth-Project-ID": "other", "X-Roles": "member"}  # the bystander's GETs
GET_EVERY = 0.02


def zone_file(name: str, records: int) -> str:
    """A BIND-style zone file with ``records`` records besides the SOA and apex NS."""
    lines = [f"$ORIGIN {name}", "$TTL 3600",
             f"@ IN SOA ns1.{name} hostmaster.{name} 2024010101 3600 600 86400 3600",
             "@ IN NS ns1.example.net."]
    for i in range(records):
        kind = i % 4
        if kind == 0:
            lines.append(f"h{i} 300 IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
        elif kind == 1:
            lines.append(f"h{i} IN AAAA 2001:db8::{i & 0xffff:x}:{i >> 16:x}")
        elif kind == 2:
            lines.append(f't{i} IN TXT "v=spf1 include:x{i}.example.net -all"')
        else:
            lines.append(f"m{i} IN MX 10 mail{i}.{name}")
    return "\n".join(lines) + "\n"


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (0 if it is gone or unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _descendants(root: int) -> list[int]:
    """Live descendants of ``root`` (the zone-file worker and its forkserver), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


async def _pg_backends(url: str) -> list[int]:
    """Server process ids of the connections to the bench database (local PostgreSQL only)."""
    if not url.startswith("postgresql"):
        return []
    name = sa.make_url(url).database
    admin = await asyncpg.connect(asyncpg_dsn(pg_admin_url()))
    try:
        rows = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await admin.close()
    return [r["pid"] for r in rows]


async def _cpu_snapshot(url: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the worker processes and the database's server processes."""
    return {"workers": {pid: _proc_cpu(pid) for pid in _descendants(os.getpid())},
            "server": {pid: _proc_cpu(pid) for pid in await _pg_backends(url)}}


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class GetProbe:
    """Another client: ``GET /v2/zones?limit=1`` every :data:`GET_EVERY` s until stopped."""

    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.url = http, f"{base}/v2/zones?limit=1"
        self.stop = asyncio.Event()
        self.latencies: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            async with self.http.get(self.url, headers=OTHER) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            self.latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(GET_EVERY)

    def __enter__(self) -> GetProbe:
        self.task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()

    async def summary(self) -> dict[str, Any]:
        """Stop; {n, p50_ms, p99_ms, max_ms} of the GETs."""
        self.stop.set()
        if self.task is not None:
            await self.task
        s = sorted(self.latencies) or [0.0]
        return {"n": len(self.latencies), "p50_ms": round(s[len(s) // 2] * 1000, 1),
                "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 1),
                "max_ms": round(s[-1] * 1000, 1)}


async def idle_gets(http: aiohttp.ClientSession, base: str, seconds: float = 2.0
                    ) -> dict[str, Any]:
    """The probe with nothing else going on (the reference for ``get max ms``)."""
    with GetProbe(http, base) as probe:
        await asyncio.sleep(seconds)
    return await probe.summary()


async def run_one(url: str, sizes: list[int]) -> list[dict[str, Any]]:
    """Import one file per size into a fresh database through the API on a loopback port."""
    settings = Settings(database_url=url, auth="noauth", max_import_size=64 * 1024 * 1024)
    engine = db.create_engine(url)
    await bootstrap.prepare(engine, settings, auto_migrate=True)
    service = Service(engine, settings)
    await service.set_quotas(Context("admin", roles=frozenset({"admin"})), "bench", {
        "zone_records": -1, "zone_recordsets": -1, "recordset_records": -1, "zones": -1})
    app = create_app(settings, service)
    app.cleanup_ctx.append(warm_parser)  # as dnsaas api does
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    out = []
    try:
        async with aiohttp.ClientSession() as http:
            await parsepool.warm()  # as an API that has been up for a moment
            idle = await idle_gets(http, base)
            for size in sizes:
                name = f"bench{size}-{uuid.uuid4().hex[:6]}.test."
                text = zone_file(name, size).encode()
                snap0 = await _cpu_snapshot(url)
                load0 = os.getloadavg()[0]
                t0, c0 = time.perf_counter(), time.process_time()
                with GetProbe(http, base) as probe:
                    task, slowest, progress = await import_until_done(http, base, text)
                took = time.perf_counter() - t0
                gets = await probe.summary()
                cpu = time.process_time() - c0
                snap1 = await _cpu_snapshot(url)
                assert task["status"] == "COMPLETE", task
                workers = _cpu_delta(snap0["workers"], snap1["workers"])
                server = _cpu_delta(snap0["server"], snap1["server"])
                out.append({"records": size, "bytes": len(text), "seconds": round(took, 3),
                            "records_per_second": round(size / took),
                            "process_cpu_seconds": round(cpu, 3),
                            "worker_cpu_seconds": round(workers, 3),
                            "server_cpu_seconds": round(server, 3),
                            "total_cpu_seconds": round(cpu + workers + server, 3),
                            "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)],
                            "slowest_poll_ms": round(slowest * 1000, 1),
                            "other_gets": gets, "other_gets_idle": idle,
                            "progress_seen": sorted(progress)})
    finally:
        await runner.cleanup()
        await engine.dispose()
    return out


async def import_until_done(http: aiohttp.ClientSession, base: str, text: bytes
                            ) -> tuple[dict[str, Any], float, set[int]]:
    """POST the file, poll the task every 20 ms until it is not PENDING; returns the task, the
    slowest task GET (s) and the progress values seen."""
    async with http.post(f"{base}/v2/zones/tasks/imports", data=text, headers=HEADERS) as resp:
        task = await resp.json()
        assert resp.status == 202, task
    slowest, progress = 0.0, set()
    while True:
        g0 = time.perf_counter()
        async with http.get(f"{base}/v2/zones/tasks/imports/{task['id']}",
                            headers=HEADERS) as resp:
            task = await resp.json()
        slowest = max(slowest, time.perf_counter() - g0)
        progress.add(task["progress"])
        if task["status"] != "PENDING":
            return task, slowest, progress
        await asyncio.sleep(0.02)


async def _poll(check: Any, every: float, limit: float) -> float | None:
    """perf_counter time at which ``await check()`` is true (None after ``limit`` s)."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        if await check():
            return time.perf_counter()
        await asyncio.sleep(every)
    return None


class AxfrBindServer(BindServer):
    """The benchmarks' BIND, also allowing AXFR from loopback (to count what it serves)."""

    def _write_config(self) -> None:
        super()._write_config()
        text = self.named_conf.read_text()
        if "    allow-transfer { none; };\n" not in text:
            raise RuntimeError("named.conf has no 'allow-transfer { none; };' line to replace")
        self.named_conf.write_text(text.replace("    allow-transfer { none; };\n",
                                                "    allow-transfer { 127.0.0.1; };\n", 1))


def _axfr_count(peer: BindServer, zone: str) -> int:
    """RRs of an AXFR of ``zone`` from ``peer`` (dig; both SOAs counted)."""
    out = subprocess.run(["dig", "+noall", "+answer", "+time=30", "-p", str(peer.port), "AXFR",
                          zone, "@127.0.0.1"], capture_output=True, text=True, check=False)
    return sum(1 for line in out.stdout.splitlines() if line and not line.startswith(";"))


async def import_to_bind(http: aiohttp.ClientSession, stack: Stack, peer: BindServer,
                         meter: CpuMeter, size: int) -> dict[str, Any]:
    """One import through ``dnsaas api``: to COMPLETE, to ACTIVE, to BIND at the serial."""
    base = stack.api.removesuffix("/v2")
    name = f"bind{size}-{uuid.uuid4().hex[:6]}.test."
    text = zone_file(name, size).encode()
    meter.mark()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with GetProbe(http, base) as probe:
        task, _slowest, _ = await import_until_done(http, base, text)
    t_complete = time.perf_counter()
    gets = await probe.summary()
    assert task["status"] == "COMPLETE", task
    async with http.get(f"{base}/v2/zones/{task['zone_id']}", headers=OWNER) as resp:
        zone = await resp.json()
    serial = int(zone["serial"])

    async def active() -> bool:
        async with http.get(f"{base}/v2/zones/{task['zone_id']}", headers=OWNER) as resp:
            return bool((await resp.json())["status"] == "ACTIVE")

    async def at_bind() -> bool:
        got = await asyncio.to_thread(peer.query_soa_serial, name)
        return got is not None and got >= serial
    t_active, t_bind = await asyncio.gather(_poll(active, 0.05, 300), _poll(at_bind, 0.01, 300))
    cpu = meter.mark()
    expected = size + 3  # the records, the apex NS, the SOA at both ends
    axfr = await asyncio.to_thread(_axfr_count, peer, name)
    i = size - 4  # the last A record of the file (i % 4 == 0)
    spot = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    answer = await asyncio.to_thread(peer.query, f"h{i}.{name}", "A")
    spot_ok = any(rr.to_text() == spot for rrset in answer.answer for rr in rrset)

    def since(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 3)
    return {"records": size, "bytes": len(text), "serial": serial,
            "to_complete_s": since(t_complete), "to_active_s": since(t_active),
            "to_bind_s": since(t_bind),
            "records_per_second_to_complete": round(size / (t_complete - t0)),
            "records_per_second_to_bind": round(size / (t_bind - t0)) if t_bind else None,
            "axfr_rrs_at_bind": axfr, "axfr_rrs_expected": expected, "spot_check_ok": spot_ok,
            "other_gets": gets, "cpu_s": cpu,
            "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)]}


async def run_stack(sizes: list[int], keep_logs: bool) -> list[dict[str, Any]]:
    """Import each size through the separate-process stack with a BIND secondary."""
    workdir = Path(tempfile.mkdtemp(prefix="dnsaas-bench-import-"))
    db_url = await make_database("dnsaas_bench_import")
    stack = Stack(db_url, workdir)
    stack.start()  # before BIND, so that BIND cannot take the api's or mdns's port
    peer = None
    out = []
    try:
        await wait_http(f"{stack.api}/zones", workdir / "api.log")
        peer = AxfrBindServer(primary=("127.0.0.1", stack.mdns_port)).start()
        await make_pool("bind", peer, stack)
        assert peer.proc is not None
        meter = CpuMeter({**{n: p.pid for n, p in stack.procs.items()}, "bind": peer.proc.pid})
        async with aiohttp.ClientSession() as http:
            idle = await idle_gets(http, stack.api.removesuffix("/v2"))
            for size in sizes:
                row = await import_to_bind(http, stack, peer, meter, size)
                row["other_gets_idle"] = idle
                out.append(row)
    finally:
        stack.stop()
        if peer is not None:
            peer.stop()
        await drop_database(db_url.rsplit("/", 1)[1])
        if keep_logs:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return out


async def main_async(sizes: list[int], with_pg: bool, with_bind: bool = False,
                     keep_logs: bool = False) -> dict[str, Any]:
    report: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg(),
                              "results": {}}
    if with_pg:
        name = f"dnsaas_bench_import_{uuid.uuid4().hex[:6]}"
        try:
            report["results"]["postgresql"] = await run_one(await recreate_database(name), sizes)
        finally:
            await drop_database(name)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        report["results"]["sqlite"] = await run_one(url, sizes)
    if with_bind:
        report["to_bind"] = await run_stack(sizes, keep_logs)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records only")
    parser.add_argument("--no-bind", action="store_true",
                        help="skip the separate-process run to a BIND secondary")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the api/worker/mdns logs of the BIND run")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    with_pg = postgres_available()
    with_bind = with_pg and not args.no_bind and BindServer.available()
    if not with_bind and not args.no_bind:
        print("to BIND: skipped (needs PostgreSQL and BIND 9)")
    report = asyncio.run(main_async(sizes, with_pg, with_bind, args.keep_logs))
    print(f"load average {report['load_average'][0]:.1f} on {report['cpus']} CPUs")
    print(f"{'store':<12}{'records':>9}{'wall s':>8}{'records/s':>11}{'api cpu':>9}"
          f"{'worker':>8}{'db srv':>8}{'cpu s':>7}{'load':>11}{'poll ms':>9}{'get max ms':>11}"
          f"{'(idle)':>8}")
    for store, rows in report["results"].items():
        for row in rows:
            load = "{:.1f}-{:.1f}".format(*row["load_average"])
            print(f"{store:<12}{row['records']:>9}{row['seconds']:>8.2f}"
                  f"{row['records_per_second']:>11}{row['process_cpu_seconds']:>9.2f}"
                  f"{row['worker_cpu_seconds']:>8.2f}{row['server_cpu_seconds']:>8.2f}"
                  f"{row['total_cpu_seconds']:>7.2f}{load:>11}{row['slowest_poll_ms']:>9.1f}"
                  f"{row['other_gets']['max_ms']:>11.1f}{row['other_gets_idle']['max_ms']:>8.1f}")
    if report.get("to_bind"):
        print("to BIND (PostgreSQL; dnsaas api/worker/mdns processes; BIND 9 secondary):")
        print(f"{'records':>9}{'COMPLETE s':>12}{'ACTIVE s':>10}{'at BIND s':>11}"
              f"{'rec/s BIND':>12}{'AXFR rrs':>14}{'spot':>6}{'get max ms':>11}{'(idle)':>8}"
              f"{'load':>11}")
        for row in report["to_bind"]:
            load = "{:.1f}-{:.1f}".format(*row["load_average"])
            axfr = f"{row['axfr_rrs_at_bind']}/{row['axfr_rrs_expected']}"
            print(f"{row['records']:>9}{row['to_complete_s']:>12}{row['to_active_s']!s:>10}"
                  f"{row['to_bind_s']!s:>11}{row['records_per_second_to_bind']!s:>12}"
                  f"{axfr:>14}{'ok' if row['spot_check_ok'] else 'NO':>6}"
                  f"{row['other_gets']['max_ms']:>11.1f}{row['other_gets_idle']['max_ms']:>8.1f}"
                  f"{load:>11}")
    RESULTS.mkdir(exist_ok=True)
    name = "import-quick.json" if args.quick else "import.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
