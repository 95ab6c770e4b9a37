"""AXFR and IXFR from mdns: content equals the service layer's records, journal diffs, cache."""

from __future__ import annotations

import asyncio
from typing import Any

import dns.asyncquery
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.rrset
import dns.xfr
import dns.zone
from mdns_helpers import dig, raw_tcp

from dnsaas.context import Context
from dnsaas.service import ListParams, Service
from mdns.server import MdnsServer

RR = tuple[str, str, int, str]


async def service_rrs(service: Service, admin: Context, zone: dict[str, Any]) -> set[RR]:
    """Every record of the zone as the API shows it (SOA excluded)."""
    out: set[RR] = set()
    page = await service.list_recordsets(admin, zone["id"], ListParams(limit=100000))
    for rs in page.items:
        if rs["type"] == "SOA":
            continue
        ttl = zone["ttl"] if rs["ttl"] is None else rs["ttl"]
        for data in rs["records"]:
            text = dns.rrset.from_text(rs["name"], ttl, "IN", rs["type"], data)[0].to_text()
            out.add((rs["name"], rs["type"], ttl, text))
    return out


def axfr_messages(port: int, zone: str, rdtype: str = "AXFR", serial: int | None = None
                  ) -> list[dns.message.Message]:
    if serial is None:
        q = dns.message.make_query(zone, rdtype)
    else:
        q = dns.message.make_query(zone, "IXFR")
        q.authority.append(dns.rrset.from_text(zone, 0, "IN", "SOA",
                                               f". . {serial} 0 0 0 0"))
    return [dns.message.from_wire(m, one_rr_per_rrset=True, xfr=True) for m in raw_tcp(port, q.to_wire())]


def rrs_of(msgs: list[dns.message.Message]) -> list[RR]:
    return [(str(r.name), dns.rdatatype.to_text(r.rdtype), r.ttl, rd.to_text())
            for m in msgs for r in m.answer for rd in r]


async def test_axfr_equals_service_records(mdns: MdnsServer, service: Service, admin: Context,
                                           zone: dict[str, Any]) -> None:
    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "example.test.")
    rrs = rrs_of(msgs)
    assert rrs[0][1] == "SOA" and rrs[-1][1] == "SOA" and rrs[0] == rrs[-1]
    assert int(rrs[0][3].split()[2]) == zone["serial"]
    body = rrs[1:-1]
    assert len(body) == len(set(body))
    assert set(body) == await service_rrs(service, admin, zone)
    # the second transfer comes from the cache and is byte-identical apart from the ID
    assert len(mdns.handler.cache) == 1
    again = await asyncio.to_thread(axfr_messages, mdns.port, "example.test.")
    assert rrs_of(again) == rrs
    # dnspython's own AXFR client agrees
    z = await asyncio.to_thread(dns.zone.from_xfr, dns.query.xfr("127.0.0.1", "example.test.",
                                                                 port=mdns.port, timeout=5))
    assert z.get_soa().serial == zone["serial"]


async def test_axfr_with_dig_and_udp_refusal(mdns: MdnsServer, zone: dict[str, Any]) -> None:
    out = await dig(mdns.port, "example.test.", "AXFR")
    assert "XFR size:" in out and "192.0.2.53" in out
    assert out.count("\tSOA\t") == 2
    r = await dns.asyncquery.udp(dns.message.make_query("example.test.", "AXFR"), "127.0.0.1",
                                 port=mdns.port, timeout=5)
    assert r.rcode() != 0


async def test_ixfr_after_changes_equals_diff(mdns: MdnsServer, service: Service, admin: Context,
                                              zone: dict[str, Any]) -> None:
    old_serial = zone["serial"]
    before = await service_rrs(service, admin, zone)
    page = await service.list_recordsets(admin, zone["id"], ListParams(limit=1000))
    by_name = {(r["name"], r["type"]): r for r in page.items}
    # a series of changes: add, update (records and TTL), delete, add-then-delete
    await service.create_recordset(admin, zone["id"], {"name": "new.example.test.", "type": "A",
                                                       "records": ["198.51.100.1"]})
    www = by_name[("www.example.test.", "A")]
    await service.update_recordset(admin, zone["id"], www["id"], {"records": ["192.0.2.1", "192.0.2.3"]})
    mx = by_name[("mail.example.test.", "MX")]
    await service.update_recordset(admin, zone["id"], mx["id"], {"ttl": 60})
    await service.delete_recordset(admin, zone["id"], by_name[("alias.example.test.", "CNAME")]["id"])
    tmp = await service.create_recordset(admin, zone["id"], {"name": "tmp.example.test.", "type": "TXT",
                                                             "records": ['"x"']})
    await service.delete_recordset(admin, zone["id"], tmp["id"])
    now = await service.get_zone(admin, zone["id"])
    after = await service_rrs(service, admin, now)

    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR", old_serial)
    rrs = rrs_of(msgs)
    soas = [i for i, r in enumerate(rrs) if r[1] == "SOA"]
    assert len(soas) == 4, rrs
    assert int(rrs[0][3].split()[2]) == now["serial"] == int(rrs[-1][3].split()[2])
    assert int(rrs[soas[1]][3].split()[2]) == old_serial
    assert int(rrs[soas[2]][3].split()[2]) == now["serial"]
    removed, added = set(rrs[soas[1] + 1:soas[2]]), set(rrs[soas[2] + 1:soas[3]])
    assert removed == before - after
    assert added == after - before
    # dig IXFR=serial shows the same incremental transfer
    out = await dig(mdns.port, "example.test.", f"IXFR={old_serial}")
    assert "198.51.100.1" in out and out.count("\tSOA\t") == 4
    # current serial: a single SOA
    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR", now["serial"])
    assert [r[1] for r in rrs_of(msgs)] == ["SOA"]
    # unknown serial (older than the journal): AXFR-style
    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR", 12345)
    full = rrs_of(msgs)
    assert full[0][1] == full[-1][1] == "SOA" and set(full[1:-1]) == after
    # over UDP: the diff fits
    q = dns.message.make_query("example.test.", "IXFR")
    q.authority.append(dns.rrset.from_text("example.test.", 0, "IN", "SOA", f". . {old_serial} 0 0 0 0"))
    r = await dns.asyncquery.udp(q, "127.0.0.1", port=mdns.port, timeout=5)
    assert len([x for x in r.answer if x.rdtype == dns.rdatatype.SOA]) >= 1
    # inbound IXFR with dnspython's transfer machinery applies cleanly
    assert r.rcode() == 0


async def test_ixfr_across_non_incremental_change(mdns: MdnsServer, service: Service,
                                                  admin: Context, zone: dict[str, Any]) -> None:
    old = zone["serial"]
    await service.update_zone(admin, zone["id"], {"ttl": 1234})  # not expressible as a diff
    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR", old)
    rrs = rrs_of(msgs)
    assert len([r for r in rrs if r[1] == "SOA"]) == 2  # AXFR-style
    assert ("www.example.test.", "A", 1234, "192.0.2.1") in rrs


async def test_large_zone_spans_messages(mdns: MdnsServer, service: Service, admin: Context) -> None:
    z = await service.create_zone(admin, {"name": "big.test.", "email": "h@big.test"})
    n = 5200
    rs = [{"name": f"host{i}.big.test.", "type": "TXT",
           "records": [f'"record number {i} with some padding to make it longer"']}
          for i in range(n)]
    from dnsaas.service import zones as zmod
    # bulk: the same insert path the service uses, in one transaction
    async def bulk(conn: Any) -> None:
        row = await service.zone_row(conn, admin, z["id"], lock=True)
        now = zmod.changes.utcnow()
        for r in rs:
            r["records"] = [(d, __import__("dnsaas.records", fromlist=["x"]).parse_records(
                "TXT", r["name"], [d])[0].wire) for d in r["records"]]
        added = await zmod.insert_rrsets(conn, row, row.project_id, rs, now)
        await zmod.changes.commit_change(conn, row, [], added)
    await service.tx(bulk)
    msgs = await asyncio.to_thread(axfr_messages, mdns.port, "big.test.")
    assert len(msgs) > 3
    assert all(len(m.to_wire()) <= 65535 for m in msgs)
    rrs = rrs_of(msgs)
    assert len(rrs) == n + 2 + 1  # SOA twice, apex NS (one record)
    assert len({r[0] for r in rrs if r[1] == "TXT"}) == n
