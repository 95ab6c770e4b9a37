"""Zone import benchmark: a zone file POSTed to the real API (``text/dns``) until the import task
is COMPLETE, on PostgreSQL (the production store) and SQLite.

The files mix A, AAAA, TXT and MX records (one recordset each) as BIND writes them. The time
runs from the POST to the GET that shows COMPLETE (parse + validate every record + one bulk
insert transaction + one job); records/s is records / that time. The CPU time of the process
(API, import task, client) is reported too: on a busy machine it is the better guide.
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
from dnsaas.testing.databases import pg_admin_url, postgres_available

RESULTS = Path(__file__).parent / "results"
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


async def _pg_url(name: str) -> str:
    dsn = str(sa.make_url(pg_admin_url()).set(drivername="postgresql")
              .render_as_string(hide_password=False))
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return str(sa.make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False))


async def _drop_pg(name: str) -> None:
    dsn = str(sa.make_url(pg_admin_url()).set(drivername="postgresql")
              .render_as_string(hide_password=False))
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


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
                t0, c0 = time.perf_counter(), time.process_time()
                async with http.post(f"{base}/v2/zones/tasks/imports", data=text,
                                     headers=HEADERS) as resp:
                    task = await resp.json()
                    assert resp.status == 202, task
                while True:
                    async with http.get(f"{base}/v2/zones/tasks/imports/{task['id']}",
                                        headers=HEADERS) as resp:
                        task = await resp.json()
                    if task["status"] != "PENDING":
                        break
                    await asyncio.sleep(0.02)
                took = time.perf_counter() - t0
                cpu = time.process_time() - c0
                assert task["status"] == "COMPLETE", task
                out.append({"records": size, "bytes": len(text), "seconds": round(took, 3),
                            "records_per_second": round(size / took),
                            "process_cpu_seconds": round(cpu, 3)})
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
            report["results"]["postgresql"] = await run_one(await _pg_url(name), sizes)
        finally:
            await _drop_pg(name)
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
    print(f"{'store':<12}{'records':>10}{'seconds':>10}{'records/s':>12}{'cpu s':>8}")
    for store, rows in report["results"].items():
        for row in rows:
            print(f"{store:<12}{row['records']:>10}{row['seconds']:>10.2f}"
                  f"{row['records_per_second']:>12}{row['process_cpu_seconds']:>8.2f}")
    RESULTS.mkdir(exist_ok=True)
    name = "import-quick.json" if args.quick else "import.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
