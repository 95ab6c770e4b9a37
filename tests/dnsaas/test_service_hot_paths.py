"""The service's hot paths (zone/recordset GETs, recordset lists, the ``?name=`` lookup,
recordset creates): PostgreSQL answers them on raw asyncpg statements, so every answer is
compared with the SQLAlchemy path's (the one SQLite uses) on the same database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from dnsaas import errors as e
from dnsaas.context import Context
from dnsaas.service import ListParams, Service, pgfast
from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.storage import tables as t


@contextmanager
def sqlalchemy_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Within the block, PostgreSQL takes the SQLAlchemy path too."""
    with monkeypatch.context() as m:
        m.setattr(pgfast, "enabled", lambda _engine: False)
        yield


@pytest.fixture
async def pg_service(pg_url: str) -> AsyncIterator[Service]:
    engine = db.create_engine(pg_url)
    pgfast.keep_connections(engine, 4)  # as ``dnsaas api`` does
    try:
        yield Service(engine, Settings(database_url=pg_url, journal_retention=3))
    finally:
        await pgfast.release_connections(engine)
        await engine.dispose()


async def _fill(service: Service, alice: Context, bob: Context) -> dict[str, Any]:
    zone = await service.create_zone(alice, {"name": "hot.com.", "email": "a@hot.com"})
    shared = await service.create_zone(alice, {"name": "shared.com.", "email": "a@hot.com"})
    await service.create_share(alice, shared["id"], {"target_project_id": bob.project})
    for i, ttl in enumerate([300, None, 60, None, 3600]):
        await service.create_recordset(alice, zone["id"], {
            "name": f"r{i % 3}.hot.com.", "type": ["A", "AAAA", "TXT"][i % 3] if i < 3 else "MX",
            "records": (["10 mx1.hot.com.", "20 mx2.hot.com."] if i >= 3 else
                        [["192.0.2.1", "192.0.2.2"], ["2001:db8::1"], ['"t"']][i % 3]),
            "ttl": ttl, "description": f"d{i}"})
    return {"zone": zone, "shared": shared}


async def test_reads_match_the_sqlalchemy_path(pg_service: Service, alice: Context, bob: Context,
                                               admin: Context,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    svc = pg_service
    made = await _fill(svc, alice, bob)
    zone_id, shared_id = made["zone"]["id"], made["shared"]["id"]
    everyone = Context(project_id="admin-project", roles=frozenset({"admin"}), all_projects=True)
    rs_id = (await svc.list_recordsets(alice, zone_id, ListParams())).items[2]["id"]
    await svc.update_recordset(alice, zone_id, rs_id, {"description": "changed"})  # updated_at

    async def answers() -> list[Any]:
        out: list[Any] = []
        for ctx in (alice, bob, admin, everyone):
            for zid in (zone_id, shared_id, "00000000-0000-0000-0000-000000000000"):
                for call in (svc.get_zone(ctx, zid), svc.get_recordset(ctx, zid, rs_id)):
                    try:
                        out.append(await call)
                    except e.DnsaasError as exc:
                        out.append(type(exc).__name__)
            for name in ("hot.com.", "shared.com.", "nope.com."):
                for key in ("created_at", "name", "tenant_id", "serial"):
                    for direction in ("asc", "desc"):
                        page = await svc.list_zones(ctx, ListParams(
                            {"name": name}, key, direction, limit=1 + (key == "serial")))
                        out.append((page.items, page.total))
        for key in ("created_at", "id", "updated_at", "name", "type", "ttl", "records",
                    "tenant_id", "zone_id"):
            for direction in ("asc", "desc"):
                for limit, count in ((3, True), (20, False)):
                    page = await svc.list_recordsets(alice, zone_id, ListParams(
                        {}, key, direction, limit=limit, count=count))
                    out.append((page.items, page.total))
                # Every later page, after the previous page's last item.
                page = await svc.list_recordsets(alice, zone_id, ListParams(
                    {}, key, direction, limit=2))
                while len(page.items) == 2:
                    page = await svc.list_recordsets(alice, zone_id, ListParams(
                        {}, key, direction, marker=page.items[-1]["id"], limit=2))
                    out.append((page.items, page.total))
        other_zone = (await svc.list_recordsets(alice, shared_id, ListParams())).items[0]["id"]
        for ctx, zid, marker in ((bob, zone_id, None), (bob, shared_id, None),
                                 (bob, zone_id, "not-a-uuid"), (alice, zone_id, "not-a-uuid"),
                                 (alice, zone_id, "00000000-0000-0000-0000-000000000000"),
                                 (alice, zone_id, other_zone), (bob, shared_id, rs_id)):
            try:
                page = await svc.list_recordsets(ctx, zid, ListParams(marker=marker))
                out.append((page.items, page.total))
            except e.DnsaasError as exc:
                out.append(type(exc).__name__)
        return out

    fast = await answers()
    with sqlalchemy_path(monkeypatch):
        slow = await answers()
    assert fast == slow
    # Same key order too (the API's JSON follows it).
    assert [[list(i) for i in a[0]] for a in fast if isinstance(a, tuple)] == \
        [[list(i) for i in a[0]] for a in slow if isinstance(a, tuple)]
    assert any(isinstance(a, tuple) and any(i.get("updated_at") for i in a[0]) for a in fast)
    # The comparison saw real rows and real refusals, not just errors.
    assert "ZoneNotFound" in fast and "RecordSetNotFound" in fast
    assert "InvalidMarker" in fast and "MarkerNotFound" in fast
    assert any(isinstance(a, dict) and a.get("shared") for a in fast)
    assert any(isinstance(a, tuple) and len(a[0]) == 3 and a[1] == 7 for a in fast)


async def _state(engine: Any, zone_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        zone = (await conn.execute(sa.select(t.zones).where(t.zones.c.id == zone_id))).one()
        rsets = (await conn.execute(sa.select(t.recordsets.c.name, t.recordsets.c.type,
                                              t.recordsets.c.ttl, t.recordsets.c.serial,
                                              t.recordsets.c.status,
                                              t.recordsets.c.description).where(
            t.recordsets.c.zone_id == zone_id).order_by(t.recordsets.c.name,
                                                        t.recordsets.c.type))).all()
        recs = (await conn.execute(sa.select(t.records.c.data, t.records.c.rdata,
                                             t.records.c.axfr_rr, t.records.c.serial,
                                             t.records.c.managed).where(
            t.records.c.zone_id == zone_id).order_by(t.records.c.data, t.records.c.serial))).all()
        journal = (await conn.execute(sa.select(
            t.zone_changes.c.serial_from, t.zone_changes.c.serial_to, t.zone_changes.c.removed,
            t.zone_changes.c.added, t.zone_changes.c.removed_count, t.zone_changes.c.added_count,
            t.zone_changes.c.incremental).where(t.zone_changes.c.zone_id == zone_id)
            .order_by(t.zone_changes.c.id))).all()
        jobs = (await conn.execute(sa.select(t.jobs.c.kind, t.jobs.c.state,
                                             t.jobs.c.target_serial, t.jobs.c.payload).where(
            t.jobs.c.zone_id == zone_id))).all()
    return {"zone": (zone.serial, zone.status, zone.action, zone.version, zone.recordset_count),
            "recordsets": rsets, "records": recs, "journal": journal, "jobs": jobs}


async def test_creates_write_what_the_sqlalchemy_path_writes(
        pg_service: Service, alice: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same rows, journal (old/new SOA + added RRs), job, counters and serials from both paths,
    journal pruning included (retention 3, pruned when the serial is a multiple of 16)."""
    svc = pg_service
    zones = [await svc.create_zone(alice, {"name": f"w{i}.com.", "email": "a@w.com", "refresh": 3600})
             for i in range(2)]
    # Same serial history on both zones, ahead of the clock so that every create adds one:
    # the serials (and the pruning points) line up.
    ids = [z["id"] for z in zones]
    base = int(time.time()) + 100_000
    async with svc.engine.begin() as conn:
        await conn.execute(t.zones.update().where(t.zones.c.id.in_(ids)).values(serial=base))
        # the zones may have been created in different clock seconds: same starting serials
        for table in (t.recordsets, t.records):
            await conn.execute(table.update().where(table.c.zone_id.in_(ids))
                               .values(serial=base - 1))
    results = []
    for n, zone in enumerate(zones):
        async def create(i: int, zone: dict = zone) -> dict[str, Any]:
            return await svc.create_recordset(alice, zone["id"], {
                "name": f"r{i}.{zone['name']}", "type": "TXT" if i % 2 else "A",
                "records": ['"x"', '"y"'] if i % 2 else ["192.0.2.9"],
                "ttl": 60 if i % 3 else None})
        if n == 0:
            out = [await create(i) for i in range(30)]
        else:
            with sqlalchemy_path(monkeypatch):
                out = [await create(i) for i in range(30)]
        results.append(out)
    for a, b in zip(*results, strict=True):
        assert {k: v for k, v in a.items() if k not in ("id", "zone_id", "zone_name", "name",
                                                        "created_at")} == \
               {k: v for k, v in b.items() if k not in ("id", "zone_id", "zone_name", "name",
                                                        "created_at")}
    fast, slow = [await _state(svc.engine, z["id"]) for z in zones]
    assert fast["zone"] == slow["zone"]
    assert len(fast["recordsets"]) == len(slow["recordsets"]) == 32
    assert [r[1:5] + (r.description,) for r in fast["recordsets"]] == \
           [r[1:5] + (r.description,) for r in slow["recordsets"]]
    assert [(r.data.replace("w0", "w1"), r.serial, r.managed, r.axfr_rr) for r in fast["records"]] == \
           [(r.data, r.serial, r.managed, r.axfr_rr) for r in slow["records"]]
    assert sum(bool(r.axfr_rr) for r in fast["records"]) == len(fast["records"]) - 1  # all but SOA
    # Journal: pruning kept 3 entries + those after the last prune.
    assert [j[:2] + j[4:] for j in fast["journal"]] == [j[:2] + j[4:] for j in slow["journal"]]
    assert 3 <= len(fast["journal"]) < 3 + 16
    w0, w1 = b"\x02w0\x03com\x00", b"\x02w1\x03com\x00"
    assert [(j.removed.replace(w0, w1), j.added.replace(w0, w1)) for j in fast["journal"]] == \
           [(j.removed, j.added) for j in slow["journal"]]
    assert fast["jobs"] == slow["jobs"]


async def test_create_errors_are_unchanged(pg_service: Service, alice: Context, bob: Context,
                                           admin: Context,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    svc = pg_service
    made = await _fill(svc, alice, bob)
    zone_id = made["zone"]["id"]
    await svc.create_zone(alice, {"name": "child.hot.com.", "email": "a@hot.com"})
    await svc.set_quotas(admin, alice.project, {"zone_recordsets": 8, "recordset_records": 2,
                                                "zone_records": 12})
    cases = [
        (alice, zone_id, {"name": "x.other.com.", "type": "A", "records": ["192.0.2.1"]}),
        (alice, zone_id, {"name": "hot.com.", "type": "CNAME", "records": ["a.b."]}),
        (alice, zone_id, {"name": "a.child.hot.com.", "type": "A", "records": ["192.0.2.1"]}),
        (alice, zone_id, {"name": "r0.hot.com.", "type": "A", "records": ["192.0.2.1"]}),
        (alice, zone_id, {"name": "r0.hot.com.", "type": "CNAME", "records": ["a.b."]}),
        (alice, zone_id, {"name": "n.hot.com.", "type": "A",
                          "records": ["192.0.2.1", "192.0.2.2", "192.0.2.3"]}),
        (alice, zone_id, {"name": "n.hot.com.", "type": "A", "records": ["192.0.2.1"]}),
        (alice, zone_id, {"name": "m.hot.com.", "type": "A", "records": ["192.0.2.1"]}),
        (bob, zone_id, {"name": "b.hot.com.", "type": "A", "records": ["192.0.2.1"]}),
        (alice, "00000000-0000-0000-0000-000000000000",
         {"name": "b.hot.com.", "type": "A", "records": ["192.0.2.1"]}),
    ]

    async def outcomes() -> list[str]:
        seen = []
        for ctx, zid, values in cases:
            try:
                await svc.create_recordset(ctx, zid, dict(values))
                seen.append("created")
            except e.DnsaasError as exc:
                seen.append(f"{type(exc).__name__}: {exc.message}")
        return seen

    fast = await outcomes()
    async with svc.engine.begin() as conn:  # undo the creates of the first run
        for name in ("n.hot.com.", "m.hot.com."):
            ids = (await conn.execute(sa.select(t.recordsets.c.id).where(
                t.recordsets.c.name == name))).scalars().all()
            await conn.execute(t.records.delete().where(t.records.c.recordset_id.in_(ids)))
            await conn.execute(t.recordsets.delete().where(t.recordsets.c.id.in_(ids)))
            await conn.execute(t.zones.update().where(t.zones.c.id == zone_id).values(
                recordset_count=t.zones.c.recordset_count - len(ids)))
    with sqlalchemy_path(monkeypatch):
        slow = await outcomes()
    assert fast == slow, fast
    assert fast.count("created") == 1 and any("Quota exceeded" in f for f in fast)
    assert any(f.startswith("DuplicateRecordSet") for f in fast)
    assert any(f.startswith("ZoneNotFound") for f in fast)


async def test_kept_connections_are_reused_and_never_kept_in_a_transaction(
        pg_service: Service, alice: Context) -> None:
    engine = pg_service.engine
    zone = await pg_service.create_zone(alice, {"name": "kept.com.", "email": "a@kept.com"})
    kept = pgfast._KEPT[engine.pool]
    await asyncio.gather(*(pg_service.get_zone(alice, zone["id"]) for _ in range(8)))
    assert 1 <= len(kept.idle) <= 4 and engine.pool.checkedout() >= len(kept.idle)
    first = kept.idle[-1][1]
    async with pgfast.driver(engine) as drv:
        assert drv is first  # a list pop, no pool checkout
        await drv.execute("BEGIN")  # left open: must not be kept nor go back to the pool open
    assert all(d is not first for _c, d in kept.idle) and first.is_closed()
    with pytest.raises(asyncpg.UndefinedTableError):
        async with pgfast.driver(engine) as drv:
            await drv.fetchval("SELECT 1 FROM no_such_table")
    assert all(d is not drv for _c, d in kept.idle)
    # the pool and the hot paths still work, and the zone is still the zone
    assert (await pg_service.get_zone(alice, zone["id"]))["name"] == "kept.com."
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT 1"))).scalar() == 1
    await pgfast.release_connections(engine)
    assert engine.pool.checkedout() == 0 and engine.pool not in pgfast._KEPT
    assert (await pg_service.get_zone(alice, zone["id"]))["id"] == zone["id"]
    assert engine.pool.checkedout() == 0
