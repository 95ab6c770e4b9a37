"""Transfer data paths: database-assembled AXFR (PostgreSQL), Python fallback, IXFR chain + cache.

Every AXFR is compared with the service layer's records, on SQLite and PostgreSQL, including
records without a stored ``axfr_rr`` (rows written by other paths), inherited and explicit TTLs,
stored RRs kept right by the triggers when TTLs or rdata change,
RRs larger than the slack between the cut size and the 64 KiB message limit, and transfers
spanning many messages.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import dns.message
import dns.rdatatype
import sqlalchemy as sa
from test_mdns_transfer import axfr_messages, rrs_of, service_rrs

from dnsaas import wire
from dnsaas.context import Context
from dnsaas.records import parse_records
from dnsaas.service import ListParams, Service
from dnsaas.service import zones as zmod
from dnsaas.storage import tables as t
from mdns import transfer
from mdns.server import MdnsServer
from mdns.zonedata import find_zone

RR = tuple[str, str, int, str]


def parse_bodies(zone: str, bodies: list[tuple[int, bytes]]) -> list[RR]:
    """Frame bodies the way the handler does and parse them with dnspython."""
    q = dns.message.make_query(zone, "AXFR")
    qd = q.to_wire()[12:]
    out: list[RR] = []
    for count, body in bodies:
        wire = struct.pack("!HHHHHH", 1, 0x8400, 1, count, 0, 0) + qd + body
        assert len(wire) <= 65535
        m = dns.message.from_wire(wire, one_rr_per_rrset=True, xfr=True)
        assert sum(len(r) for r in m.answer) == count
        out += [(str(r.name), dns.rdatatype.to_text(r.rdtype), r.ttl, rd.to_text())
                for r in m.answer for rd in r]
    return out


async def render(service: Service, name: str, fn: Any = transfer.render_axfr) -> list[tuple[int, bytes]]:
    """The AXFR bodies of zone ``name`` rendered by ``fn`` in one snapshot."""
    async with service.engine.connect() as conn:
        zone = await find_zone(conn, name)
        await conn.rollback()
    assert zone is not None
    async with transfer.snapshot(service.engine) as conn:
        cur = await transfer.current_zone(conn, zone)
        assert cur is not None
        if fn is transfer._render_axfr_pg:
            return await fn(conn, cur)  # type: ignore[no-any-return]
        return [b async for b in fn(conn, cur)]


async def drop_prefixes(service: Service, zone_id: str, names: list[str]) -> int:
    """Set ``axfr_rr`` to NULL on the records at ``names`` (as other writers may leave it)."""
    async def run(conn: Any) -> int:
        res = await conn.execute(sa.update(t.records).where(
            t.records.c.recordset_id.in_(sa.select(t.recordsets.c.id).where(
                t.recordsets.c.zone_id == zone_id, t.recordsets.c.name.in_(names))))
            .values(axfr_rr=None))
        return int(res.rowcount)
    return await service.tx(run)


async def stored_rrs(service: Service, zone_id: str) -> list[tuple[Any, bytes]]:
    """Each record's stored ``axfr_rr`` and what it should be, from the other columns."""
    z, rs, r = t.zones, t.recordsets, t.records
    async with service.engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(z.c.name.label("zone"), z.c.ttl.label("zttl"), rs.c.name, rs.c.type,
                      rs.c.ttl, r.c.rdata, r.c.axfr_rr)
            .select_from(r.join(rs, rs.c.id == r.c.recordset_id).join(z, z.c.id == r.c.zone_id))
            .where(r.c.zone_id == zone_id))).all()
    return [(row.axfr_rr, wire.axfr_rr(wire.axfr_head(row.name, row.zone, row.type),
                                       row.zttl if row.ttl is None else row.ttl, row.rdata))
            for row in rows]


async def test_stored_rrs_follow_ttl_and_rdata_changes(mdns: MdnsServer, service: Service,
                                                       admin: Context, zone: dict[str, Any]) -> None:
    pairs = await stored_rrs(service, zone["id"])
    assert len(pairs) >= 5 and all(have == want for have, want in pairs)
    assert [have for have, _ in pairs].count(b"") == 1  # the SOA: transfers take it from the zone
    page = await service.list_recordsets(admin, zone["id"], ListParams(limit=1000))
    www = next(r for r in page.items if r["name"] == "www.example.test." and r["type"] == "A")
    await service.update_recordset(admin, zone["id"], www["id"], {"ttl": 4242})
    await service.update_zone(admin, zone["id"], {"ttl": 7777})

    async def new_rdata(conn: Any) -> None:  # a writer that changes rdata and nothing else
        await conn.execute(sa.update(t.records).where(
            t.records.c.recordset_id == www["id"], t.records.c.data == "192.0.2.2")
            .values(data="192.0.2.99", rdata=b"\xc0\x00\x02\x63"))
    await service.tx(new_rdata)
    pairs = await stored_rrs(service, zone["id"])
    pg = service.engine.dialect.name == "postgresql"
    # PostgreSQL rewrites the stored RRs in place; SQLite forgets them (rendered in Python)
    assert all(have == want or (have is None and not pg) for have, want in pairs)
    assert any(want.endswith(b"\x00\x00\x10\x92\x00\x04\xc0\x00\x02\x63") for _, want in pairs)
    assert any(want[-10:-6] == b"\x00\x00\x1e\x61" for _, want in pairs if want)  # 7777
    if pg:
        assert all(have is not None for have, _ in pairs)
    expected = await service_rrs(service, admin, await service.get_zone(admin, zone["id"]))
    assert ("www.example.test.", "A", 4242, "192.0.2.99") in expected
    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "example.test.")
    assert sorted(rrs_of(msgs)[1:-1]) == sorted(expected)


async def test_axfr_with_null_prefixes_equals_service(mdns: MdnsServer, service: Service,
                                                      admin: Context, zone: dict[str, Any]) -> None:
    n = await drop_prefixes(service, zone["id"], ["www.example.test.", "mail.example.test.",
                                                  "example.test."])
    assert n >= 4  # www A + AAAA, mail MX, apex NS and SOA
    expected = await service_rrs(service, admin, zone)
    # explicit TTL 0 and 300 next to inherited ones, with and without a stored axfr_rr
    assert {r[2] for r in expected} >= {0, 300, zone["ttl"]}
    for fn in (transfer.render_axfr, transfer._render_axfr_py):
        rrs = parse_bodies("example.test.", await render(service, "example.test.", fn))
        assert rrs[0][1] == rrs[-1][1] == "SOA" and rrs[0] == rrs[-1]
        assert sorted(rrs[1:-1]) == sorted(expected)
    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "example.test.")
    body = rrs_of(msgs)[1:-1]
    assert sorted(body) == sorted(expected)


async def test_database_assembly_is_used_on_postgresql(service: Service, admin: Context,
                                                       zone: dict[str, Any]) -> None:
    bodies = await render(service, "example.test.", transfer._render_axfr_pg)
    if service.engine.dialect.name != "postgresql":
        return
    assert bodies is not None
    assert parse_bodies("example.test.", bodies) == parse_bodies(
        "example.test.", await render(service, "example.test.", transfer.render_axfr))
    # owners are compressed against the apex: the apex NS owner is just a pointer
    assert b"\xc0\x0c\x00\x02\x00\x01" in b"".join(b for _, b in bodies)


async def bulk_zone(service: Service, admin: Context, name: str, rrsets: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """A zone with ``rrsets`` inserted through the service's own bulk insert path."""
    z = await service.create_zone(admin, {"name": name, "email": f"h@{name}"})

    async def bulk(conn: Any) -> None:
        row = await service.zone_row(conn, admin, z["id"], lock=True)
        now = zmod.changes.utcnow()
        for r in rrsets:
            r["records"] = [(d, parse_records(r["type"], r["name"], [d])[0].wire)
                            for d in r["records"]]
        added = await zmod.insert_rrsets(conn, row, row.project_id, rrsets, now)
        await zmod.changes.commit_change(conn, row, [], added)
    await service.tx(bulk)
    return await service.get_zone(admin, z["id"])


async def test_multi_message_axfr_with_big_rrs_and_null_prefixes(
        mdns: MdnsServer, service: Service, admin: Context) -> None:
    big = " ".join(['"' + "x" * 255 + '"'] * 28)  # ~7.2 KB rdata: more than the cut slack
    rrsets: list[dict[str, Any]] = []
    for i in range(3000):
        rr: dict[str, Any] = {"name": f"h{i}.multi.test.", "type": "TXT",
                              "records": [big if i % 97 == 0 else f'"record {i} padding padding"']}
        if i % 3 == 0:
            rr["ttl"] = 60 + i
        rrsets.append(rr)
        rrsets.append({"name": f"h{i}.multi.test.", "type": "A", "records": [f"10.0.{i // 256}.{i % 256}"]})
    z = await bulk_zone(service, admin, "multi.test.", rrsets)
    await drop_prefixes(service, z["id"], [f"h{i}.multi.test." for i in range(0, 3000, 7)])
    expected = await service_rrs(service, admin, z)
    assert len(expected) == 6001  # apex NS + 6000
    bodies = await render(service, "multi.test.")
    assert len(bodies) > 5
    rrs = parse_bodies("multi.test.", bodies)
    assert rrs[0][1] == rrs[-1][1] == "SOA" and sorted(rrs[1:-1]) == sorted(expected)
    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "multi.test.")
    assert len(msgs) == len(bodies) and all(len(m.to_wire()) <= 65535 for m in msgs)
    assert sorted(rrs_of(msgs)[1:-1]) == sorted(expected)


async def test_cold_axfr_after_change_sees_the_change(mdns: MdnsServer, service: Service,
                                                      admin: Context, zone: dict[str, Any]) -> None:
    first = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test."))
    await service.create_recordset(admin, zone["id"], {"name": "late.example.test.", "type": "A",
                                                       "records": ["198.51.100.9"]})
    now = await service.get_zone(admin, zone["id"])
    second = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test."))
    assert ("late.example.test.", "A", now["ttl"], "198.51.100.9") in second
    assert set(second[1:-1]) - set(first[1:-1]) == {("late.example.test.", "A", now["ttl"],
                                                      "198.51.100.9")}
    assert int(second[0][3].split()[2]) == now["serial"]
    assert len(mdns.handler.cache) == 1  # the older serial's transfer was dropped


async def test_ixfr_chain_from_every_serial_and_cache(mdns: MdnsServer, service: Service,
                                                      admin: Context, zone: dict[str, Any]) -> None:
    serials = [zone["serial"]]
    states = [await service_rrs(service, admin, zone)]
    page = await service.list_recordsets(admin, zone["id"], ListParams(limit=1000))
    www = next(r for r in page.items if r["name"] == "www.example.test." and r["type"] == "A")
    steps = [
        lambda: service.create_recordset(admin, zone["id"], {"name": "c1.example.test.", "type": "A",
                                                             "records": ["198.51.100.1"]}),
        lambda: service.update_recordset(admin, zone["id"], www["id"], {"records": ["192.0.2.77"]}),
        lambda: service.update_recordset(admin, zone["id"], www["id"], {"ttl": 42}),
    ]
    for step in steps:
        await step()
        z = await service.get_zone(admin, zone["id"])
        serials.append(z["serial"])
        states.append(await service_rrs(service, admin, z))
    current = serials[-1]
    for i, old in enumerate(serials[:-1]):
        for _ in range(2):  # the second time from the cache
            rrs = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test.",
                                                 "IXFR", old))
            soas = [k for k, r in enumerate(rrs) if r[1] == "SOA"]
            assert len(soas) == 4, rrs
            assert int(rrs[soas[1]][3].split()[2]) == old
            assert int(rrs[soas[2]][3].split()[2]) == current
            assert set(rrs[soas[1] + 1:soas[2]]) == states[i] - states[-1]
            assert set(rrs[soas[2] + 1:soas[3]]) == states[-1] - states[i]
            hit = mdns.handler.cache.get(zone["id"], current, old)
            assert hit is not None and hit.kind == "incremental"
    # a serial the journal does not know: AXFR-style, and that decision is cached as well
    rrs = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR", 7))
    assert len([r for r in rrs if r[1] == "SOA"]) == 2 and set(rrs[1:-1]) == states[-1]
    miss = mdns.handler.cache.get(zone["id"], current, 7)
    assert miss is not None and miss.kind == "axfr"
    # a new change makes every cached reply for the old serial unreachable: dropped
    await service.create_recordset(admin, zone["id"], {"name": "c2.example.test.", "type": "A",
                                                       "records": ["198.51.100.2"]})
    rrs = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR", current))
    assert ("c2.example.test.", "A", zone["ttl"], "198.51.100.2") in rrs
    assert mdns.handler.cache.get(zone["id"], current, serials[0]) is None


async def test_ixfr_plan_needs_one_query(service: Service, admin: Context,
                                         zone: dict[str, Any]) -> None:
    await service.create_recordset(admin, zone["id"], {"name": "q.example.test.", "type": "A",
                                                       "records": ["198.51.100.3"]})
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)
    sa.event.listen(service.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with service.engine.connect() as conn:
            found = await find_zone(conn, "example.test.")
            await conn.rollback()
        assert found is not None
        cache = transfer.TransferCache(1 << 20)
        for expect_queries in (1, 0):
            async with transfer.snapshot(service.engine) as conn:
                cur = await transfer.current_zone(conn, found)
                assert cur is not None
                statements.clear()
                plan = await transfer.plan_ixfr(conn, cur, zone["serial"], cache)
                assert plan.kind == "incremental"
                assert len([s for s in statements if "zone_changes" in s]) == expect_queries
                assert len(statements) == expect_queries
    finally:
        sa.event.remove(service.engine.sync_engine, "before_cursor_execute", count)


def test_cache_shares_one_budget_and_drops_old_serials() -> None:
    cache = transfer.TransferCache(1000)
    cache.put("z", 1, transfer.Rendered([(1, b"a" * 400)], 400, 1))
    cache.put("z", 1, transfer.Rendered([(1, b"b" * 300)], 300, 1, "incremental"), from_serial=0)
    assert len(cache) == 2 and cache.nbytes == 700
    cache.put("y", 5, transfer.Rendered([(1, b"c" * 500)], 500, 1))  # evicts the LRU (z AXFR)
    assert cache.get("z", 1) is None and cache.get("z", 1, 0) is not None
    assert cache.nbytes == 800
    cache.put("z", 2, transfer.Rendered([(1, b"d" * 100)], 100, 1))  # newer serial of z
    assert cache.get("z", 1, 0) is None and cache.get("z", 2) is not None
    assert cache.nbytes == 600
    cache.put("x", 1, transfer.Rendered([(1, b"e" * 2000)], 2000, 1))  # over budget: not kept
    assert cache.get("x", 1) is None and cache.nbytes == 600


async def test_failed_assembly_falls_back_within_the_snapshot(service: Service, admin: Context,
                                                              zone: dict[str, Any],
                                                              monkeypatch: Any) -> None:
    expected = await service_rrs(service, admin, zone)
    # e.g. a zone over PostgreSQL's 1 GB value limit: the query fails, the savepoint keeps the
    # snapshot usable and the Python path renders the same transfer
    monkeypatch.setattr(transfer, "_PG_AXFR", sa.text("SELECT 1 / 0 AS blob"))
    if service.engine.dialect.name == "postgresql":
        assert await render(service, "example.test.", transfer._render_axfr_pg) is None
    rrs = parse_bodies("example.test.", await render(service, "example.test."))
    assert rrs[0][1] == rrs[-1][1] == "SOA" and sorted(rrs[1:-1]) == sorted(expected)
