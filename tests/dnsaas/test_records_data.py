"""``recordsets.records_data`` (PostgreSQL): the trigger-kept array that recordset pages and
GETs read instead of looking records up per recordset. It must follow every write of
``records`` (the autouse fixture in tests/conftest.py checks every test's databases too); this
test walks each kind of write and shows that the reads really serve the array."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from dnsaas.context import Context
from dnsaas.service import ListParams, Service, pgfast
from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.testing.databases import asyncpg_dsn, records_data_mismatches


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[tuple[Service, asyncpg.Connection]]:
    engine = db.create_engine(pg_url)
    conn = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        yield Service(engine, Settings(database_url=pg_url)), conn
    finally:
        await conn.close()
        await engine.dispose()


async def _kept(conn: asyncpg.Connection, zone_id: str) -> dict[tuple[str, str], list[str] | None]:
    rows = await conn.fetch("SELECT name, type, records_data FROM recordsets WHERE zone_id = $1",
                            zone_id)
    return {(r["name"], r["type"]): r["records_data"] for r in rows}


async def test_records_data_follows_every_write(pg: tuple[Service, asyncpg.Connection],
                                                alice: Context, admin: Context,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    service, conn = pg
    url = service.settings.database_url
    zone = await service.create_zone(alice, {"name": "kept.com.", "email": "h@kept.com"})
    zid = zone["id"]
    kept = await _kept(conn, zid)
    assert kept[("kept.com.", "SOA")] is None  # rewritten on every serial bump: not kept
    assert kept[("kept.com.", "NS")]  # the pool's nameservers

    # Creates on the hot path (one statement) and on the SQLAlchemy path.
    a = await service.create_recordset(alice, zid, {
        "name": "a.kept.com.", "type": "A", "records": ["192.0.2.3", "192.0.2.1", "192.0.2.2"]})
    with monkeypatch.context() as m:
        m.setattr(pgfast, "enabled", lambda _engine: False)
        txt = await service.create_recordset(alice, zid, {
            "name": "t.kept.com.", "type": "TXT", "records": ['"one"', '"two"']})
    kept = await _kept(conn, zid)
    assert sorted(kept[("a.kept.com.", "A")]) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert sorted(kept[("t.kept.com.", "TXT")]) == ['"one"', '"two"']
    assert await records_data_mismatches(url) == []

    # Updates: records added, removed and kept; a delete.
    await service.update_recordset(alice, zid, a["id"], {"records": ["192.0.2.1", "192.0.2.9"]})
    kept = await _kept(conn, zid)
    assert sorted(kept[("a.kept.com.", "A")]) == ["192.0.2.1", "192.0.2.9"]
    await service.delete_recordset(alice, zid, txt["id"])
    assert await records_data_mismatches(url) == []

    # A record's data rewritten in place (no service path does this today; a later one may).
    await conn.execute("UPDATE records SET data = '192.0.2.77' WHERE data = '192.0.2.9'")
    assert sorted((await _kept(conn, zid))[("a.kept.com.", "A")]) == ["192.0.2.1", "192.0.2.77"]

    # Several records inserted by one statement for many recordsets (as an import's COPY).
    task = await service.create_zone_import(alice, "\n".join([
        "$ORIGIN bulk.com.", "$TTL 300",
        "@ IN SOA ns1.bulk.com. h.bulk.com. 1 3600 600 86400 300",
        "@ IN NS ns1.example.net.",
        *(f"h{i} IN A 192.0.2.{j}" for i in range(30) for j in (1, 2, 3)),
    ]))
    await service.wait_background()
    assert (await service.get_zone_import(alice, task["id"]))["status"] == "COMPLETE"
    bulk = await conn.fetchval("SELECT id FROM zones WHERE name = 'bulk.com.'")
    kept = await _kept(conn, bulk)
    assert all(sorted(kept[(f"h{i}.bulk.com.", "A")]) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
               for i in range(30))
    assert await records_data_mismatches(url) == []

    # Reads serve the kept array (made visibly different here, then put back).
    await conn.execute("UPDATE recordsets SET records_data = '{kept-array}' WHERE id = $1",
                       a["id"])
    page = await service.list_recordsets(alice, zid, ListParams(limit=50))
    shown = {r["name"] + " " + r["type"]: r["records"] for r in page.items}
    assert shown["a.kept.com. A"] == ["kept-array"]
    assert (await service.get_recordset(alice, zid, a["id"]))["records"] == ["kept-array"]
    soa = await conn.fetchval("SELECT r.data FROM records r JOIN recordsets s ON s.id = "
                              "r.recordset_id WHERE s.zone_id = $1 AND s.type = 'SOA'", zid)
    assert shown["kept.com. SOA"] == [soa]  # the SOA from its record: the current serial
    await conn.execute("UPDATE recordsets SET records_data = NULL WHERE id = $1", a["id"])
    page = await service.list_recordsets(alice, zid, ListParams(limit=50))
    shown = {r["name"] + " " + r["type"]: r["records"] for r in page.items}
    assert sorted(shown["a.kept.com. A"]) == ["192.0.2.1", "192.0.2.77"]  # NULL: from records
    await conn.execute("UPDATE records SET data = data WHERE recordset_id = $1", a["id"])
    await conn.execute("DELETE FROM records WHERE id = (SELECT id FROM records WHERE "
                       "recordset_id = $1 ORDER BY id LIMIT 1)", a["id"])
    assert await records_data_mismatches(url) == []  # the delete trigger set it again

    # Zone deletion (cascading to every record) leaves nothing wrong behind.
    deleted = await service.delete_zone(alice, zid)
    await service.mark_propagated(zid, deleted["serial"], deleted=True)
    assert await records_data_mismatches(url) == []
