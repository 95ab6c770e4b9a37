"""Zone import benchmark: a zone file POSTed to the real API (``text/dns``) until the import task
is COMPLETE, on PostgreSQL (the production store) and SQLite.

The files mix A, AAAA, TXT and MX records (one recordset each) as BIND writes them. The time
runs from the POST to the GET that shows COMPLETE (parse + validate every record + one bulk
insert transaction + one job); records/s is records / that time. CPU seconds are reported per
part, since on a busy machine they are the better guide: the API process (API, import task,
client, SQLite), the zone-file worker process, and the PostgreSQL server processes of the bench
database (read from /proc; local server only), with the 1-minute load average before/after and
the slowest task GET while the import ran (how responsive the API stayed).
Prints a table and writes ``bench/results/import.json`` (``import-quick.json`` with ``--quick``).

    python -m bench.import_zone            # 10,000 and 100,000 records
    python -m bench.import_zone --quick    # 10,000 records only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import sqlalchemy as sa
from aiohttp import web

from api.app import create_app
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

RESULTS = Path(__file__).parent / "results"
_TICK = os.sysconf("SC_CLK_TCK")
HEADERS = {"X-Auth-Project-ID": "bench", "X-Roles": "member", "Content-Type": "text/dns"}


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


async def run_one(url: str, sizes: list[int]) -> list[dict[str, Any]]:
    """Import one file per size into a fresh database through the API on a loopback port."""
    settings = Settings(database_url=url, auth="noauth", max_import_size=64 * 1024 * 1024)
    engine = db.create_engine(url)
    await bootstrap.prepare(engine, settings, auto_migrate=True)
    service = Service(engine, settings)
    await service.set_quotas(Context("admin", roles=frozenset({"admin"})), "bench", {
        "zone_records": -1, "zone_recordsets": -1, "recordset_records": -1, "zones": -1})
    runner = web.AppRunner(create_app(settings, service), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    out = []
    try:
        async with aiohttp.ClientSession() as http:
            for size in sizes:
                name = f"bench{size}-{uuid.uuid4().hex[:6]}.test."
                text = zone_file(name, size).encode()
                snap0 = await _cpu_snapshot(url)
                load0 = os.getloadavg()[0]
                t0, c0 = time.perf_counter(), time.process_time()
                async with http.post(f"{base}/v2/zones/tasks/imports", data=text,
                                     headers=HEADERS) as resp:
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
                        break
                    await asyncio.sleep(0.02)
                took = time.perf_counter() - t0
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
                            "progress_seen": sorted(progress)})
    finally:
        await runner.cleanup()
        await engine.dispose()
    return out


async def main_async(sizes: list[int], with_pg: bool) -> dict[str, Any]:
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
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records only")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    report = asyncio.run(main_async(sizes, postgres_available()))
    print(f"load average {report['load_average'][0]:.1f} on {report['cpus']} CPUs")
    print(f"{'store':<12}{'records':>9}{'wall s':>8}{'records/s':>11}{'api cpu':>9}"
          f"{'worker':>8}{'db srv':>8}{'cpu s':>7}{'load':>11}{'poll ms':>9}")
    for store, rows in report["results"].items():
        for row in rows:
            load = "{:.1f}-{:.1f}".format(*row["load_average"])
            print(f"{store:<12}{row['records']:>9}{row['seconds']:>8.2f}"
                  f"{row['records_per_second']:>11}{row['process_cpu_seconds']:>9.2f}"
                  f"{row['worker_cpu_seconds']:>8.2f}{row['server_cpu_seconds']:>8.2f}"
                  f"{row['total_cpu_seconds']:>7.2f}{load:>11}{row['slowest_poll_ms']:>9.1f}")
    RESULTS.mkdir(exist_ok=True)
    name = "import-quick.json" if args.quick else "import.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
