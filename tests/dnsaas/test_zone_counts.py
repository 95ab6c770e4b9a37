"""The per-project live zone counts kept by triggers: unfiltered zone lists take their exact
total from them (and their quota check), so every path that changes which zones a project
lists must keep them exact, on both engines."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import asyncpg
import pytest
import sqlalchemy as sa

from dnsaas import errors as e
from dnsaas.context import Context
from dnsaas.service import ListParams, Service
from dnsaas.service.zones import reverse_name
from dnsaas.settings import DEFAULT_POOL_ID, Settings
from dnsaas.storage import db
from dnsaas.storage import tables as t
from dnsaas.testing.databases import asyncpg_dsn

ALICE, BOB = "project-alice", "project-bob"


def _all(ctx: Context) -> Context:
    return Context(project_id=ctx.project_id, roles=ctx.roles, all_projects=True)


async def _zone(service: Service, ctx: Context, name: str) -> dict:
    return await service.create_zone(ctx, {"name": name, "email": "h@example.com"})


async def _counters_match(service: Service) -> None:
    """zone_counts equals a recount of the live zones, per (project, type)."""
    async with service.engine.connect() as conn:
        kept = {(r.project_id, r.type): r.zones
                for r in await conn.execute(sa.select(t.zone_counts)) if r.zones}
        real = {(r.project_id, r.type): r.n for r in await conn.execute(
            sa.select(t.zones.c.project_id, t.zones.c.type, sa.func.count().label("n"))
            .where(t.zones.c.deleted_at.is_(None))
            .group_by(t.zones.c.project_id, t.zones.c.type))}
    assert kept == real


async def _listed(service: Service, ctx: Context, expected: set[str]) -> None:
    """The unfiltered list's total (counters) and the filtered one (a COUNT) are both the
    number of zones listed, which are ``expected``."""
    page = await service.list_zones(ctx, ListParams(limit=1000))
    assert {z["name"] for z in page.items} == expected
    assert page.total == len(expected)
    filtered = await service.list_zones(ctx, ListParams(filters={"name": "*"}, limit=1))
    assert filtered.total == len(expected)
    await _counters_match(service)


async def test_counts_follow_every_path(service: Service, alice: Context, bob: Context,
                                        admin: Context) -> None:
    a = [await _zone(service, alice, f"a{i}.example.com.") for i in range(4)]
    b = [await _zone(service, bob, f"b{i}.example.org.") for i in range(2)]
    names_a = {z["name"] for z in a}
    names_b = {z["name"] for z in b}
    await _listed(service, alice, names_a)
    await _listed(service, bob, names_b)
    await _listed(service, _all(admin), names_a | names_b)

    # A zone shared with bob is in bob's list (and total), still once in alice's.
    await service.create_share(alice, a[0]["id"], {"target_project_id": BOB})
    await _listed(service, bob, names_b | {a[0]["name"]})
    await _listed(service, admin.as_project(BOB), names_b | {a[0]["name"]})
    await _listed(service, alice, names_a)
    await _listed(service, _all(admin), names_a | names_b)

    # Delete: listed while PENDING DELETE, gone once soft-deleted; the purge changes nothing.
    deleted = await service.delete_zone(alice, a[1]["id"])
    await _listed(service, alice, names_a)
    assert await service.mark_propagated(a[1]["id"], deleted["serial"], deleted=True) == "DELETED"
    names_a.discard(a[1]["name"])
    await _listed(service, alice, names_a)
    assert await service.purge_deleted(older_than=timedelta(0)) == 1
    await _listed(service, alice, names_a)

    # Abandon: the row goes at once.
    await service.abandon_zone(_all(admin), a[2]["id"])
    names_a.discard(a[2]["name"])
    await _listed(service, alice, names_a)

    # Transfer of the shared zone to bob: it moves from alice's count to bob's (the share is
    # dropped, so bob does not see it twice).
    request = await service.create_transfer_request(alice, a[0]["id"],
                                                    {"target_project_id": BOB})
    await service.accept_transfer(bob, {"zone_transfer_request_id": request["id"],
                                        "key": request["key"]})
    names_a.discard(a[0]["name"])
    names_b.add(a[0]["name"])
    await _listed(service, alice, names_a)
    await _listed(service, bob, names_b)

    # Import creates a zone.
    text = "$ORIGIN imp.example.net.\n$TTL 300\n@ IN SOA ns.imp.example.net. h.example.net. " \
           "1 3600 600 86400 300\n@ IN NS ns1.example.net.\nwww IN A 192.0.2.7\n"
    task = await service.create_zone_import(alice, text)
    await service.wait_background()
    assert (await service.get_zone_import(alice, task["id"]))["status"] == "COMPLETE"
    names_a.add("imp.example.net.")
    await _listed(service, alice, names_a)
    await _listed(service, _all(admin), names_a | names_b)

    # Filters keep their exact COUNT; the quota uses the counts.
    star = await service.list_zones(alice, ListParams(filters={"name": "a*"}))
    assert star.total == len([n for n in names_a if n.startswith("a")])
    await service.set_quotas(admin, ALICE, {"zones": len(names_a)})
    with pytest.raises(e.OverQuota):
        await _zone(service, alice, "over.example.com.")
    await _listed(service, alice, names_a)


async def test_catalog_zones_count_for_admins_only(service: Service, alice: Context) -> None:
    """Non-admins never list CATALOG zones, admins of the project do; both totals exact."""
    zone = await _zone(service, alice, "cat-owner.example.com.")
    async with service.engine.begin() as conn:
        row = (await conn.execute(sa.select(t.zones).where(t.zones.c.id == zone["id"]))).first()
        assert row is not None
        values = dict(row._mapping, id=str(uuid.uuid4()), name="catalog.example.com.",
                      reverse_name=reverse_name("catalog.example.com."), type="CATALOG")
        await conn.execute(t.zones.insert().values(**values))
    await _listed(service, alice, {"cat-owner.example.com."})
    alice_admin = Context(project_id=ALICE, roles=frozenset({"admin"}))
    await _listed(service, alice_admin, {"cat-owner.example.com.", "catalog.example.com."})


async def test_marker_pages_with_shares(service: Service, alice: Context, bob: Context) -> None:
    """Pages by marker, both directions, over own and shared zones: every zone once, in order,
    with the exact total on each page."""
    await service.set_quotas(Context(project_id="x", roles=frozenset({"admin"})), BOB,
                             {"zones": -1})
    mine = [await _zone(service, bob, f"p{i:02d}.example.org.") for i in range(5)]
    shared = await _zone(service, alice, "shared.example.com.")
    await service.create_share(alice, shared["id"], {"target_project_id": BOB})
    mine += [await _zone(service, bob, f"q{i:02d}.example.org.") for i in range(4)]
    expected = [z["name"] for z in mine[:5]] + [shared["name"]] + [z["name"] for z in mine[5:]]
    for sort_key, direction, want in (("created_at", "asc", expected),
                                      ("created_at", "desc", expected[::-1]),
                                      ("name", "asc", sorted(expected))):
        seen, marker = [], None
        while True:
            page = await service.list_zones(bob, ListParams(sort_key=sort_key, sort_dir=direction,
                                                            limit=3, marker=marker))
            assert page.total == len(expected)
            seen += [z["name"] for z in page.items]
            if not page.has_more:
                break
            marker = page.items[-1]["id"]
        assert seen == want
    shared_item = next(z for z in (await service.list_zones(bob, ListParams())).items
                       if z["id"] == shared["id"])
    assert shared_item["shared"] is True
    empty = await service.list_zones(bob, ListParams(marker=mine[-1]["id"]))
    assert empty.items == [] and empty.total == len(expected)
    hidden = await service.list_zones(bob, ListParams(marker=mine[0]["id"], count=False))
    assert hidden.total is None and len(hidden.items) == len(expected) - 1


async def test_concurrent_creates_and_quota_on_postgresql(pg_url: str) -> None:
    """Concurrent creates in two projects keep the counts exact, with no error reaching the
    caller; under a quota exactly the allowed number of concurrent creates succeed."""
    engine = db.create_engine(pg_url)
    service = Service(engine, Settings(database_url=pg_url))
    admin = Context(project_id="admin", roles=frozenset({"admin"}))
    ctx = {p: Context(project_id=p, roles=frozenset({"member"})) for p in ("p1", "p2", "p3")}
    try:
        await service.set_quotas(admin, "p1", {"zones": -1})
        await asyncio.gather(*[_zone(service, ctx["p1"], f"c{i}.one.test.") for i in range(30)],
                             *[_zone(service, ctx["p2"], f"c{i}.two.test.") for i in range(8)])
        await _listed(service, ctx["p1"], {f"c{i}.one.test." for i in range(30)})
        await _listed(service, ctx["p2"], {f"c{i}.two.test." for i in range(8)})

        await service.set_quotas(admin, "p3", {"zones": 5})
        results = await asyncio.gather(
            *[_zone(service, ctx["p3"], f"q{i}.three.test.") for i in range(12)],
            return_exceptions=True)
        made = {r["name"] for r in results if isinstance(r, dict)}
        assert len(made) == 5
        assert all(isinstance(r, e.OverQuota) for r in results if not isinstance(r, dict))
        await _listed(service, ctx["p3"], made)
    finally:
        await engine.dispose()


async def test_concurrent_transfer_accepts_respect_the_quota(pg_url: str) -> None:
    """Three zones offered to one project with room for one, accepted at once: one accept
    completes, the others are 413 and stored in ERROR; the counts stay exact."""
    engine = db.create_engine(pg_url)
    service = Service(engine, Settings(database_url=pg_url))
    owner = Context(project_id="giver", roles=frozenset({"member"}))
    taker = Context(project_id="taker", roles=frozenset({"member"}))
    try:
        await service.set_quotas(Context(project_id="a", roles=frozenset({"admin"})), "taker",
                                 {"zones": 1})
        zones = [await _zone(service, owner, f"t{i}.give.test.") for i in range(3)]
        requests = [await service.create_transfer_request(owner, z["id"],
                                                          {"target_project_id": "taker"})
                    for z in zones]
        results = await asyncio.gather(*[service.accept_transfer(taker, {
            "zone_transfer_request_id": r["id"], "key": r["key"]}) for r in requests],
            return_exceptions=True)
        done = [r for r in results if isinstance(r, dict)]
        assert len(done) == 1 and done[0]["status"] == "COMPLETE"
        assert sum(isinstance(r, e.OverQuota) for r in results) == 2
        moved = next(z["name"] for z in zones if z["id"] == done[0]["zone_id"])
        await _listed(service, taker, {moved})
        await _listed(service, owner, {z["name"] for z in zones} - {moved})
        async with engine.connect() as conn:
            states = sorted((await conn.execute(sa.select(
                t.zone_transfer_accepts.c.status))).scalars())
        assert states == ["COMPLETE", "ERROR", "ERROR"]
    finally:
        await engine.dispose()


async def test_copy_bulk_load_is_counted(pg_url: str) -> None:
    """The bulk loader's COPY (bench/storage.py) is counted by the statement trigger."""
    conn = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        rows = []
        for i in range(600):
            name = f"bulk{i}.example.com."
            rows.append((str(uuid.uuid4()), f"bulk-{i % 3}", DEFAULT_POOL_ID, name,
                         reverse_name(name), "h@example.com", 300, 3600, 600, 86400, 300, 1,
                         "PRIMARY", "[]", "{}", "ACTIVE", "NONE", 1,
                         datetime(2026, 1, 1)))
        await conn.copy_records_to_table("zones", records=rows, columns=[
            "id", "project_id", "pool_id", "name", "reverse_name", "email", "ttl", "refresh",
            "retry", "expire", "minimum", "serial", "type", "masters", "attributes", "status",
            "action", "version", "created_at"])
        counts = dict(await conn.fetch("SELECT project_id, zones FROM zone_counts"))
        assert counts == {"bulk-0": 200, "bulk-1": 200, "bulk-2": 200}
        await conn.execute("UPDATE zones SET deleted_at = now() WHERE project_id = 'bulk-0' "
                           "AND name LIKE 'bulk1%'")
        await conn.execute("DELETE FROM zones WHERE project_id = 'bulk-1' AND name LIKE 'bulk2%'")
        real = dict(await conn.fetch("SELECT project_id, count(*) FROM zones "
                                     "WHERE deleted_at IS NULL GROUP BY project_id"))
        counts = dict(await conn.fetch("SELECT project_id, zones FROM zone_counts"))
        assert counts == real and real["bulk-0"] < 200 and real["bulk-1"] < 200
    finally:
        await conn.close()
