"""Recordset creates coalesced by the API process's batcher (PostgreSQL, ``pgfast``): creates
validated while a write runs go together as the next one. Every create still gets exactly its
own outcome, serials and journals stay gapless, and a batch that fails as a whole is redone
create by create."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from dnsaas import errors as e
from dnsaas.context import Context
from dnsaas.service import ListParams, Service, pgcreate, pgfast
from dnsaas.settings import QuotaDefaults, Settings
from dnsaas.storage import db
from dnsaas.testing.databases import asyncpg_dsn


@pytest.fixture
async def api_service(pg_url: str) -> AsyncIterator[Service]:
    """The service as ``dnsaas api`` runs it: kept connections and the create batcher."""
    engine = db.create_engine(pg_url)
    pgfast.keep_connections(engine, 8)
    try:
        yield Service(engine, Settings(database_url=pg_url, journal_retention=5,
                                       quotas=QuotaDefaults(zone_recordsets=-1)))
    finally:
        await pgfast.release_connections(engine)
        await engine.dispose()


async def _journal_is_a_chain(conn: asyncpg.Connection, zone_id: str) -> list[Any]:
    """The zone's journal entries link serial to serial, ending at the zone's serial."""
    rows = await conn.fetch("SELECT serial_from, serial_to FROM zone_changes WHERE zone_id = $1 "
                            "ORDER BY id", zone_id)
    for before, after in zip(rows, rows[1:], strict=False):
        assert after["serial_from"] == before["serial_to"]
        assert after["serial_to"] > after["serial_from"]
    serial = await conn.fetchval("SELECT serial FROM zones WHERE id = $1", zone_id)
    assert rows[-1]["serial_to"] == serial
    return rows


async def test_concurrent_creates_are_batched_and_exact(api_service: Service,
                                                        alice: Context) -> None:
    svc = api_service
    batcher = pgcreate.batcher_for(svc.engine)
    zones = [await svc.create_zone(alice, {"name": f"b{i}.com.", "email": "h@b.com"})
             for i in range(4)]
    before = {z["id"]: z["serial"] for z in zones}
    results = await asyncio.gather(*(
        svc.create_recordset(alice, zones[i % 4]["id"], {
            "name": f"h{i}.b{i % 4}.com.", "type": "A",
            "records": [f"192.0.2.{i + 1}", f"198.51.100.{i + 1}"]})
        for i in range(40)))
    assert batcher.batched > 0  # some creates did go in batches of two or more
    assert len({r["id"] for r in results}) == 40
    conn = await asyncpg.connect(asyncpg_dsn(svc.settings.database_url))
    try:
        for z in zones:
            rows = await conn.fetch("SELECT r.name, r.records_data FROM recordsets r WHERE "
                                    "r.zone_id = $1 AND r.type = 'A'", z["id"])
            assert len(rows) == 10
            for row in rows:
                i = int(row["name"].split(".")[0][1:])
                assert sorted(row["records_data"]) == [f"192.0.2.{i + 1}", f"198.51.100.{i + 1}"]
            chain = await _journal_is_a_chain(conn, z["id"])
            serial = await conn.fetchval("SELECT serial FROM zones WHERE id = $1", z["id"])
            assert serial > before[z["id"]]
            # Each answer has its own serial, the last one is the zone's, and every journal
            # entry kept (retention 5: older ones are pruned) is one of those creates.
            mine = [r["_serial"] for r in results if r["zone_id"] == z["id"]]
            assert len(set(mine)) == 10 and max(mine) == serial
            assert {c["serial_to"] for c in chain if c["serial_from"] >= before[z["id"]]} \
                <= set(mine)
            soa = await conn.fetchval(
                "SELECT r.data FROM records r JOIN recordsets s ON s.id = r.recordset_id "
                "WHERE s.zone_id = $1 AND s.type = 'SOA'", z["id"])
            assert soa.split()[2] == str(serial)
            job = await conn.fetchrow("SELECT state, target_serial FROM jobs WHERE zone_id = $1",
                                      z["id"])
            assert job["state"] == "pending" and job["target_serial"] == serial
    finally:
        await conn.close()


async def test_same_zone_creates_and_a_duplicate(api_service: Service, alice: Context) -> None:
    svc = api_service
    zone = await svc.create_zone(alice, {"name": "same.com.", "email": "h@same.com"})
    names = [f"h{i}.same.com." for i in range(12)] + ["h0.same.com."]  # one name twice
    outcomes = await asyncio.gather(*(
        svc.create_recordset(alice, zone["id"], {"name": n, "type": "A",
                                                 "records": ["192.0.2.1"]}) for n in names),
        return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], e.DuplicateRecordSet)
    page = await svc.list_recordsets(alice, zone["id"], ListParams(limit=100))
    assert sorted(r["name"] for r in page.items if r["type"] == "A") == sorted(set(names))
    conn = await asyncpg.connect(asyncpg_dsn(svc.settings.database_url))
    try:
        await _journal_is_a_chain(conn, zone["id"])
    finally:
        await conn.close()


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in 10 s")


async def test_a_failed_batch_is_redone_create_by_create(api_service: Service,
                                                         alice: Context) -> None:
    """While a test transaction holds zone ``hold``'s row, the batcher's write of a create
    there waits; two creates in other zones queue behind it. One of them is made to violate
    the (zone, name, type) unique index at write time (a row inserted behind the service's
    back, without the version bump every real writer makes), which fails their batch as a
    whole: that create gets the violation, the other one is written."""
    svc = api_service
    batcher = pgcreate.batcher_for(svc.engine)
    hold, bad, good = [await svc.create_zone(alice, {"name": f"{n}.com.", "email": "h@x.com"})
                       for n in ("hold", "bad", "good")]
    conn = await asyncpg.connect(asyncpg_dsn(svc.settings.database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1 FROM zones WHERE id = $1 FOR UPDATE", hold["id"])

        def create(zone: dict[str, Any], name: str) -> asyncio.Task[dict[str, Any]]:
            return asyncio.create_task(svc.create_recordset(alice, zone["id"], {
                "name": name, "type": "A", "records": ["192.0.2.1"]}))
        first = create(hold, "w.hold.com.")
        await _until(lambda: batcher.task is not None and not batcher.waiting)  # under way
        clash, fine = create(bad, "x.bad.com."), create(good, "y.good.com.")
        await _until(lambda: len(batcher.waiting) == 2)  # validated, queued behind it
        async with svc.engine.connect() as other:
            drv = await pgfast.driver_of(other)
            await drv.execute(
                "INSERT INTO recordsets (id, zone_id, project_id, name, type, managed, status, "
                "action, serial, version, created_at, records_data) VALUES "
                "(gen_random_uuid()::text, $1, 'x', 'x.bad.com.', 'A', false, 'ACTIVE', "
                "'NONE', 1, 1, now(), '{}')", bad["id"])
        await tx.rollback()
        assert (await first)["name"] == "w.hold.com."
        assert (await fine)["name"] == "y.good.com."
        with pytest.raises(asyncpg.UniqueViolationError):
            await clash
    finally:
        await conn.close()
