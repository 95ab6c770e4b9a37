"""Storage benchmark: the service layer on PostgreSQL at 100k zones and 1M recordsets.

Loads the data with COPY (the bulk path), then measures through the service layer:
get zone by name, a project's zone page deep in the list by marker, a page of recordsets deep
in a 100k-recordset zone, and one recordset create in that zone. Prints a table and writes
``bench/results/storage.json``.

    python -m bench.storage            # 100,000 zones, 1,000,000 recordsets
    python -m bench.storage --quick    # 10,000 zones, 100,000 recordsets (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from dnsaas import wire
from dnsaas.context import Context
from dnsaas.service import ListParams, Service
from dnsaas.service.zones import reverse_name
from dnsaas.settings import DEFAULT_POOL_ID, Settings
from dnsaas.storage import db
from dnsaas.testing.databases import asyncpg_dsn, drop_database, recreate_database

RESULTS = Path(__file__).parent / "results"
BIG_PROJECT = "tenant-big"


async def load(url: str, zones: int, recordsets: int, big_zone_size: int) -> dict[str, Any]:
    """Bulk-load the data set; returns facts the measurements need."""
    engine = db.create_engine(url)
    settings = Settings(database_url=url)
    from dnsaas.storage import bootstrap

    await bootstrap.prepare(engine, settings, auto_migrate=True)
    service = Service(engine, settings)
    admin = Context(project_id=BIG_PROJECT, roles=frozenset({"admin"}))
    await service.set_quotas(admin, BIG_PROJECT, {"zones": -1, "zone_recordsets": -1,
                                                  "zone_records": -1})
    big = await service.create_zone(admin, {"name": "big.bench.", "email": "a@big.bench"})
    await engine.dispose()

    conn = await asyncpg.connect(asyncpg_dsn(url))
    t0 = time.perf_counter()
    base = datetime(2026, 1, 1)
    zone_rows, zone_names = [], []
    big_project_zones = zones // 5  # one project with many zones, for deep pages
    for i in range(zones - 1):
        project = BIG_PROJECT if i < big_project_zones else f"tenant-{i % 1000}"
        name = f"z{i}.bench{i % 97}.test."
        zone_names.append((name, project))
        zone_rows.append((str(uuid.uuid4()), project, DEFAULT_POOL_ID, name, reverse_name(name),
                          "a@bench.test", 3600, 3600, 600, 86400, 3600, 1_790_000_000, "PRIMARY",
                          "[]", "{}", "ACTIVE", "NONE", 1, base + timedelta(seconds=i)))
    await conn.copy_records_to_table("zones", records=zone_rows, columns=[
        "id", "project_id", "pool_id", "name", "reverse_name", "email", "ttl", "refresh", "retry",
        "expire", "minimum", "serial", "type", "masters", "attributes", "status", "action",
        "version", "created_at"])
    rs_rows, rec_rows = [], []
    a_wire = bytes([192, 0, 2, 1])

    def add(zone_id: str, project: str, name: str, n: int) -> None:
        rs_id = str(uuid.uuid4())
        created = base + timedelta(microseconds=n)
        rs_rows.append((rs_id, zone_id, project, name, "A", None, False, "ACTIVE", "NONE",
                        1_790_000_000, 1, created))
        rec_rows.append((str(uuid.uuid4()), rs_id, zone_id, "192.0.2.1", a_wire, False, "ACTIVE",
                         "NONE", 1_790_000_000, 1, created))

    for n in range(big_zone_size):
        add(big["id"], BIG_PROJECT, f"h{n}.big.bench.", n)
    others = recordsets - big_zone_size
    for n in range(others):
        zi = n % (zones - 1)
        zone_id, (zname, project) = zone_rows[zi][0], zone_names[zi]
        add(zone_id, project, f"h{n}.{zname}", n)
    await conn.copy_records_to_table("recordsets", records=rs_rows, columns=[
        "id", "zone_id", "project_id", "name", "type", "ttl", "managed", "status", "action",
        "serial", "version", "created_at"])
    await conn.copy_records_to_table("records", records=rec_rows, columns=[
        "id", "recordset_id", "zone_id", "data", "rdata", "managed", "status", "action", "serial",
        "version", "created_at"])
    await conn.execute("UPDATE zones SET recordset_count = c.n FROM (SELECT zone_id, count(*) AS n "
                       "FROM recordsets GROUP BY zone_id) c WHERE zones.id = c.zone_id")
    await conn.execute("VACUUM ANALYZE")
    await conn.close()
    assert wire.name_wire("big.bench.")
    return {"load_seconds": time.perf_counter() - t0, "big_zone_id": big["id"],
            "zone_names": zone_names, "big_project_zones": big_project_zones}


def _stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"n": len(ms), "median_ms": statistics.median(ms),
            "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))], "max_ms": ms[-1]}


async def measure(url: str, facts: dict[str, Any], n: int) -> dict[str, dict[str, float]]:
    """Time each operation ``n`` times through the service layer."""
    engine = db.create_engine(url, pool_size=4)
    service = Service(engine, Settings(database_url=url))
    big_ctx = Context(project_id=BIG_PROJECT, roles=frozenset({"member"}))
    rng = random.Random(7)
    out: dict[str, dict[str, float]] = {}

    async def timed(label: str, fn: Any) -> None:
        for _ in range(5):  # warm the pool and caches
            await fn()
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            await fn()
            samples.append(time.perf_counter() - t0)
        out[label] = _stats(samples)

    async def get_by_name() -> None:
        name, project = rng.choice(facts["zone_names"])
        ctx = Context(project_id=project, roles=frozenset({"member"}))
        page = await service.list_zones(ctx, ListParams(filters={"name": name}, limit=1))
        assert page.items[0]["name"] == name

    zone_page_all = await service.list_zones(big_ctx, ListParams(limit=1000, count=False))
    deep_marker_zone = zone_page_all.items[-1]["id"]
    for _ in range(facts["big_project_zones"] // 1000 - 2):
        nxt = await service.list_zones(big_ctx, ListParams(limit=1000, count=False,
                                                           marker=deep_marker_zone))
        deep_marker_zone = nxt.items[-1]["id"]

    async def zone_page() -> None:
        page = await service.list_zones(big_ctx, ListParams(limit=20, marker=deep_marker_zone))
        assert len(page.items) == 20 and page.total == facts["big_project_zones"] + 1

    rs_page = await service.list_recordsets(big_ctx, facts["big_zone_id"],
                                            ListParams(limit=1000, count=False))
    rs_marker = rs_page.items[-1]["id"]

    async def recordset_page() -> None:
        page = await service.list_recordsets(big_ctx, facts["big_zone_id"],
                                             ListParams(limit=20, marker=rs_marker))
        assert len(page.items) == 20

    async def recordset_page_hide_counts() -> None:
        page = await service.list_recordsets(big_ctx, facts["big_zone_id"],
                                             ListParams(limit=20, marker=rs_marker, count=False))
        assert len(page.items) == 20

    counter = iter(range(10**9))

    async def create() -> None:
        i = next(counter)
        await service.create_recordset(big_ctx, facts["big_zone_id"], {
            "name": f"new{i}.big.bench.", "type": "A", "records": ["192.0.2.9"]})

    await timed("get zone by name", get_by_name)
    await timed("zone page deep by marker (+count)", zone_page)
    await timed("recordset page in big zone (+count)", recordset_page)
    await timed("recordset page in big zone (hide counts)", recordset_page_hide_counts)
    await timed("recordset create in big zone", create)
    await engine.dispose()
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    zones, recordsets, big = ((10_000, 100_000, 100_000) if args.quick
                              else (100_000, 1_000_000, 100_000))
    name = f"dnsaas_bench_storage_{uuid.uuid4().hex[:8]}"  # several runs may share the server
    url = await recreate_database(name)
    try:
        print(f"loading {zones:,} zones and {recordsets:,} recordsets "
              f"({big:,} in one zone) into PostgreSQL …", flush=True)
        facts = await load(url, zones, recordsets, big)
        print(f"loaded in {facts['load_seconds']:.1f} s", flush=True)
        results = await measure(url, facts, args.samples)
    finally:
        await drop_database(name)
    return {"zones": zones, "recordsets": recordsets, "big_zone_recordsets": big,
            "load_seconds": facts["load_seconds"], "operations": results,
            "targets": {"read_p99_ms": 10, "create_p99_ms": 15}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k zones / 100k recordsets")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(f"\n{'operation':45} {'median ms':>10} {'p99 ms':>8} {'target':>8}")
    for label, s in report["operations"].items():
        target = 15 if "create" in label else 10
        ok = "ok" if s["p99_ms"] <= target else "MISS"
        print(f"{label:45} {s['median_ms']:10.2f} {s['p99_ms']:8.2f} {target:>6} {ok}")
    RESULTS.mkdir(exist_ok=True)
    name = "storage-quick.json" if args.quick else "storage.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / name}")


if __name__ == "__main__":
    main()
