"""Recordset rules, the journal and the job queue rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import struct

import dns.message
import dns.rrset
import pytest
import sqlalchemy as sa

from dnsaas import errors as e
from dnsaas.context import Context
from dnsaas.service import ListParams, Service
from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.storage import tables as t


@pytest.fixture
async def zone(service: Service, alice: Context) -> dict:
    return await service.create_zone(alice, {"name": "example.com.", "email": "a@example.com"})


def _rs(name: str, rtype: str, *records: str, **kw: object) -> dict:
    return {"name": name, "type": rtype, "records": list(records), **kw}


def _parse_rrs(blob: bytes) -> list[dns.rrset.RRset]:
    """Decode concatenated wire RRs by wrapping them in a message."""
    count = 0
    pos = 0
    while pos < len(blob):  # count RRs: name, then 10 bytes header, then rdata
        while blob[pos] != 0:
            pos += blob[pos] + 1
        pos += 1
        rdlen = struct.unpack("!H", blob[pos + 8:pos + 10])[0]
        pos += 10 + rdlen
        count += 1
    header = struct.pack("!HHHHHH", 1, 0x8400, 0, count, 0, 0)
    return list(dns.message.from_wire(header + blob).answer)


async def test_create_get_update_delete(service: Service, alice: Context, zone: dict) -> None:
    rs = await service.create_recordset(alice, zone["id"], _rs("www.example.com.", "A",
                                                               "192.0.2.1", "192.0.2.2"))
    assert rs["status"] == "PENDING" and rs["action"] == "CREATE" and rs["_serial"] > zone["serial"]
    got = await service.get_recordset(alice, zone["id"], rs["id"])
    assert sorted(got["records"]) == ["192.0.2.1", "192.0.2.2"] and got["zone_name"] == "example.com."
    updated = await service.update_recordset(alice, zone["id"], rs["id"],
                                             {"records": ["192.0.2.2", "192.0.2.3"], "ttl": 60})
    assert sorted(updated["records"]) == ["192.0.2.2", "192.0.2.3"] and updated["ttl"] == 60
    assert updated["version"] == 2 and updated["_serial"] > rs["_serial"]
    deleted = await service.delete_recordset(alice, zone["id"], rs["id"])
    assert deleted["action"] == "DELETE" and deleted["status"] == "PENDING"
    with pytest.raises(e.RecordSetNotFound):
        await service.get_recordset(alice, zone["id"], rs["id"])


async def test_update_keeps_unchanged_record_rows(service: Service, alice: Context,
                                                  zone: dict) -> None:
    rs = await service.create_recordset(alice, zone["id"], _rs("m.example.com.", "A",
                                                               "192.0.2.1", "192.0.2.2"))
    async with service.engine.connect() as conn:
        before = dict((await conn.execute(sa.select(t.records.c.data, t.records.c.id).where(
            t.records.c.recordset_id == rs["id"]))).all())
    await service.update_recordset(alice, zone["id"], rs["id"], {"records": ["192.0.2.1",
                                                                             "192.0.2.9"]})
    async with service.engine.connect() as conn:
        after = dict((await conn.execute(sa.select(t.records.c.data, t.records.c.id).where(
            t.records.c.recordset_id == rs["id"]))).all())
    assert after["192.0.2.1"] == before["192.0.2.1"] and "192.0.2.2" not in after


async def test_journal_holds_the_diff(service: Service, alice: Context, zone: dict) -> None:
    rs = await service.create_recordset(alice, zone["id"], _rs("j.example.com.", "A", "192.0.2.1"))
    await service.update_recordset(alice, zone["id"], rs["id"], {"records": ["192.0.2.7"]})
    async with service.engine.connect() as conn:
        rows = (await conn.execute(sa.select(t.zone_changes).where(
            t.zone_changes.c.zone_id == zone["id"]).order_by(t.zone_changes.c.id))).all()
    assert len(rows) == 2 and rows[0].serial_from == zone["serial"]
    assert rows[1].serial_from == rows[0].serial_to
    removed, added = _parse_rrs(rows[1].removed), _parse_rrs(rows[1].added)
    assert removed[0].rdtype == 6 and removed[0][0].serial == rows[0].serial_to
    assert added[0].rdtype == 6 and added[0][0].serial == rows[1].serial_to
    assert [r.to_text() for r in removed[1]] == ["192.0.2.1"]
    assert [r.to_text() for r in added[1]] == ["192.0.2.7"]
    assert str(added[1].name) == "j.example.com." and added[1].ttl == 3600


@pytest.mark.parametrize("values, error", [
    (_rs("www.example.com.", "A", "999.1.1.1"), e.InvalidObject),
    (_rs("www.example.com.", "a", "192.0.2.1"), e.InvalidObject),
    (_rs("www.example.com.", "DNAME", "x.example.com."), e.InvalidObject),
    (_rs("www.other.com.", "A", "192.0.2.1"), e.InvalidRecordSetLocation),
    (_rs("example.com.", "CNAME", "x.example.org."), e.InvalidRecordSetLocation),
    (_rs("example.com.", "SOA", "a. b. 1 2 3 4 5"), e.BadRequest),
    (_rs("c.example.com.", "CNAME", "a.example.org.", "b.example.org."), e.InvalidObject),
    (_rs("mx.example.com.", "MX", "10 mail.example.com"), e.InvalidObject),
    (_rs("www.example.com.", "A", "192.0.2.1", ttl=-1), e.InvalidObject),
    (_rs("www.example.com", "A", "192.0.2.1"), e.InvalidObject),
    ({"name": "www.example.com.", "type": "A", "records": "192.0.2.1"}, e.InvalidObject),
    ({"name": "www.example.com.", "type": "A"}, e.InvalidObject),
    (_rs("*.example.com.", "NS", "ns.example.org."), e.InvalidObject),
])
async def test_bad_recordsets_are_rejected(service: Service, alice: Context, zone: dict,
                                           values: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        await service.create_recordset(alice, zone["id"], values)
    page = await service.list_recordsets(alice, zone["id"], ListParams())
    assert page.total == 2  # only SOA and NS: nothing half-written
    async with service.engine.connect() as conn:
        changes = (await conn.execute(sa.select(sa.func.count()).select_from(t.zone_changes))
                   ).scalar_one()
    assert changes == 0


async def test_cname_exclusivity_and_duplicates(service: Service, alice: Context,
                                                zone: dict) -> None:
    await service.create_recordset(alice, zone["id"], _rs("a.example.com.", "A", "192.0.2.1"))
    with pytest.raises(e.InvalidRecordSetLocation):
        await service.create_recordset(alice, zone["id"], _rs("a.example.com.", "CNAME",
                                                               "b.example.com."))
    await service.create_recordset(alice, zone["id"], _rs("c.example.com.", "CNAME",
                                                           "b.example.com."))
    with pytest.raises(e.InvalidRecordSetLocation):
        await service.create_recordset(alice, zone["id"], _rs("c.example.com.", "TXT", '"x"'))
    with pytest.raises(e.DuplicateRecordSet):
        await service.create_recordset(alice, zone["id"], _rs("a.example.com.", "A", "192.0.2.9"))


async def test_wildcards_delegations_and_child_zones(service: Service, alice: Context,
                                                     zone: dict) -> None:
    wild = await service.create_recordset(alice, zone["id"], _rs("*.example.com.", "A",
                                                                 "192.0.2.5"))
    assert wild["name"] == "*.example.com."
    deleg = await service.create_recordset(alice, zone["id"], _rs("sub.example.com.", "NS",
                                                                  "ns.sub.example.com."))
    assert deleg["type"] == "NS"
    await service.create_zone(alice, {"name": "child.example.com.", "email": "a@example.com"})
    with pytest.raises(e.InvalidRecordSetLocation):
        await service.create_recordset(alice, zone["id"], _rs("www.child.example.com.", "A",
                                                               "192.0.2.1"))


async def test_soa_and_managed_ns_are_protected(service: Service, alice: Context, zone: dict,
                                                admin: Context) -> None:
    page = await service.list_recordsets(alice, zone["id"], ListParams())
    soa = next(r for r in page.items if r["type"] == "SOA")
    ns = next(r for r in page.items if r["type"] == "NS")
    for call in (service.update_recordset(alice, zone["id"], soa["id"], {"ttl": 5}),
                 service.delete_recordset(alice, zone["id"], soa["id"]),
                 service.update_recordset(alice, zone["id"], ns["id"], {"records": ["x.com."]}),
                 service.delete_recordset(alice, zone["id"], ns["id"])):
        with pytest.raises(e.BadRequest):
            await call
    editor = Context(project_id="admin-project", roles=frozenset({"admin"}), all_projects=True,
                     edit_managed=True)
    changed = await service.update_recordset(editor, zone["id"], ns["id"],
                                             {"records": ["ns1.example.com.", "ns2.example.com."]})
    assert sorted(changed["records"]) == ["ns1.example.com.", "ns2.example.com."]


async def test_recordset_quotas(service: Service, alice: Context, admin: Context,
                                zone: dict) -> None:
    await service.set_quotas(admin, "project-alice", {"recordset_records": 2,
                                                      "zone_recordsets": 4, "zone_records": 3})
    with pytest.raises(e.OverQuota):
        await service.create_recordset(alice, zone["id"], _rs("q.example.com.", "A", "192.0.2.1",
                                                              "192.0.2.2", "192.0.2.3"))
    await service.create_recordset(alice, zone["id"], _rs("q1.example.com.", "A", "192.0.2.1",
                                                          "192.0.2.2"))
    with pytest.raises(e.OverQuota, match="zone_records"):
        await service.create_recordset(alice, zone["id"], _rs("q2.example.com.", "A", "192.0.2.1",
                                                              "192.0.2.2"))
    await service.create_recordset(alice, zone["id"], _rs("q3.example.com.", "A", "192.0.2.1"))
    with pytest.raises(e.OverQuota, match="zone_recordsets"):  # SOA + NS count too
        await service.create_recordset(alice, zone["id"], _rs("q4.example.com.", "A", "192.0.2.1"))


async def test_list_across_zones_and_filters(service: Service, alice: Context, bob: Context,
                                             zone: dict) -> None:
    other = await service.create_zone(alice, {"name": "example.net.", "email": "a@example.net"})
    await service.create_recordset(alice, zone["id"], _rs("w.example.com.", "A", "192.0.2.1"))
    await service.create_recordset(alice, other["id"], _rs("w.example.net.", "A", "192.0.2.2"))
    await service.create_recordset(alice, other["id"], _rs("t.example.net.", "TXT", '"hello"'))
    everything = await service.list_recordsets(alice, None, ListParams(limit=100))
    assert everything.total == 7
    a_records = await service.list_recordsets(alice, None, ListParams(filters={"type": "A"}))
    assert {r["name"] for r in a_records.items} == {"w.example.com.", "w.example.net."}
    by_data = await service.list_recordsets(alice, None, ListParams(filters={"data": "192.0.2.*"}))
    assert by_data.total == 2
    assert (await service.list_recordsets(bob, None, ListParams())).total == 0
    assert await service.find_recordset_zone(alice, a_records.items[0]["id"]) in {
        zone["id"], other["id"]}
    with pytest.raises(e.RecordSetNotFound):
        await service.find_recordset_zone(bob, a_records.items[0]["id"])


async def test_deleting_zone_blocks_recordset_writes(service: Service, alice: Context,
                                                     zone: dict) -> None:
    await service.delete_zone(alice, zone["id"])
    with pytest.raises(e.BadRequest, match="deleting"):
        await service.create_recordset(alice, zone["id"], _rs("x.example.com.", "A", "192.0.2.1"))


async def test_concurrent_creates_on_postgres(pg_url: str) -> None:
    """50 concurrent creates on one zone: 50 recordsets, 50 journal entries, strictly
    increasing serials, one pending job with the final serial, no error surfaced."""
    engine = db.create_engine(pg_url, pool_size=25)
    try:
        service = Service(engine, Settings(database_url=pg_url))
        ctx = Context(project_id="p", roles=frozenset({"admin"}))
        await service.set_quotas(ctx, "p", {"zone_recordsets": -1, "zone_records": -1})
        zone = await service.create_zone(ctx, {"name": "busy.com.", "email": "a@busy.com"})
        results = await asyncio.gather(*(
            service.create_recordset(ctx, zone["id"], _rs(f"r{i}.busy.com.", "A", "192.0.2.1"))
            for i in range(50)))
        serials = sorted(r["_serial"] for r in results)
        assert len(set(serials)) == 50
        async with engine.connect() as conn:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(t.recordsets).where(
                t.recordsets.c.zone_id == zone["id"], t.recordsets.c.type == "A"))).scalar_one()
            journal = (await conn.execute(sa.select(t.zone_changes.c.serial_from,
                                                    t.zone_changes.c.serial_to).where(
                t.zone_changes.c.zone_id == zone["id"]).order_by(t.zone_changes.c.id))).all()
            jobs = (await conn.execute(sa.select(t.jobs).where(t.jobs.c.zone_id == zone["id"]))).all()
            final = (await conn.execute(sa.select(t.zones.c.serial).where(
                t.zones.c.id == zone["id"]))).scalar_one()
        assert count == 50 and len(journal) == 50
        assert all(a.serial_to < b.serial_to and b.serial_from == a.serial_to
                   for a, b in zip(journal, journal[1:], strict=False))
        assert final == serials[-1] == journal[-1].serial_to
        async with engine.connect() as conn:
            blobs = (await conn.execute(sa.select(t.zone_changes).where(
                t.zone_changes.c.zone_id == zone["id"]))).all()
        for row in blobs:  # each entry's SOAs are exactly its serials (IXFR depends on it)
            assert _parse_rrs(row.removed)[0][0].serial == row.serial_from
            assert _parse_rrs(row.added)[0][0].serial == row.serial_to
        assert len(jobs) == 1 and jobs[0].state == "pending" and jobs[0].target_serial == final
    finally:
        await engine.dispose()
