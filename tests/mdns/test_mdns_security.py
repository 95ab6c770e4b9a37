"""TSIG, transfer ACLs, NOTIFY in/out and catalog zones against a real mdns."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.zone
import sqlalchemy as sa
from mdns_helpers import dig, raw_tcp

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.storage import tables as t
from mdns.notify import make_notify, notify_wire, send_notify
from mdns.server import MdnsServer

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


async def add_key(service: Service, admin: Context, zone: dict[str, Any], name: str = "xfr-key",
                  scope: str = "POOL") -> dns.tsig.Key:
    rid = zone["pool_id"] if scope == "POOL" else zone["id"]
    await service.create_tsigkey(admin, {"name": name, "algorithm": "hmac-sha256", "secret": SECRET,
                                         "scope": scope, "resource_id": rid})
    return dns.tsig.Key(name + ".", SECRET, "hmac-sha256")


def rcode_tcp(port: int, q: dns.message.Message) -> int:
    wire = raw_tcp(port, q.to_wire())[0]
    return dns.message.from_wire(wire, keyring=False).rcode()


async def test_tsig_required_when_configured(mdns: MdnsServer, service: Service, admin: Context,
                                             zone: dict[str, Any]) -> None:
    key = await add_key(service, admin, zone)
    # unsigned transfer: refused now that a key is scoped to the zone's pool
    q = dns.message.make_query("example.test.", "AXFR")
    assert await asyncio.to_thread(rcode_tcp, mdns.port, q) == dns.rcode.REFUSED
    # signed: every message verifies (dnspython checks the multi-message TSIG chain)
    z = await asyncio.to_thread(lambda: dns.zone.from_xfr(dns.query.xfr(
        "127.0.0.1", "example.test.", port=mdns.port, keyring={key.name: key}, keyname=key.name,
        timeout=5)))
    assert z.get_soa().serial == zone["serial"]
    # dig -y
    out = await dig(mdns.port, "-y", f"hmac-sha256:xfr-key:{SECRET}", "example.test.", "AXFR")
    assert "XFR size:" in out and "TSIG" in out and "tsig verify failure" not in out.lower()
    # a signed SOA query gets a signed answer
    sq = dns.message.make_query("example.test.", "SOA")
    sq.use_tsig(key)
    r = await dns.asyncquery.udp(sq, "127.0.0.1", port=mdns.port, timeout=5)
    assert r.rcode() == 0 and r.had_tsig


async def test_bad_tsig_is_notauth(mdns: MdnsServer, service: Service, admin: Context,
                                   zone: dict[str, Any]) -> None:
    await add_key(service, admin, zone)
    wrong = dns.tsig.Key("xfr-key.", base64.b64encode(b"not the secret").decode(), "hmac-sha256")
    q = dns.message.make_query("example.test.", "SOA")
    q.use_tsig(wrong)
    wire = await asyncio.to_thread(lambda: raw_tcp(mdns.port, q.to_wire())[0])
    r = dns.message.from_wire(wire, keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and r.tsig[0].error == dns.rcode.BADSIG
    unknown = dns.tsig.Key("nobody.", SECRET, "hmac-sha256")
    q = dns.message.make_query("example.test.", "SOA")
    q.use_tsig(unknown)
    wire = await asyncio.to_thread(lambda: raw_tcp(mdns.port, q.to_wire())[0])
    r = dns.message.from_wire(wire, keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and r.tsig[0].error == dns.rcode.BADKEY


async def test_key_of_another_zone_is_refused(mdns: MdnsServer, service: Service, admin: Context,
                                              zone: dict[str, Any]) -> None:
    other = await service.create_zone(admin, {"name": "other.test.", "email": "h@other.test"})
    key = await add_key(service, admin, other, name="other-key", scope="ZONE")
    q = dns.message.make_query("example.test.", "AXFR")
    q.use_tsig(key)
    wire = await asyncio.to_thread(lambda: raw_tcp(mdns.port, q.to_wire())[0])
    assert dns.message.from_wire(wire, keyring={key.name: key}, request_mac=q.mac).rcode() \
        == dns.rcode.REFUSED
    q = dns.message.make_query("other.test.", "AXFR")
    q.use_tsig(key)
    z = await asyncio.to_thread(lambda: dns.zone.from_xfr(dns.query.xfr(
        "127.0.0.1", "other.test.", port=mdns.port, keyring={key.name: key}, keyname=key.name,
        timeout=5)))
    assert z.get_soa() is not None


async def test_unauthorised_transfer_refused(mdns: MdnsServer, service: Service,
                                             zone: dict[str, Any]) -> None:
    service.settings.allow_transfer_from = []
    q = dns.message.make_query("example.test.", "AXFR")
    assert await asyncio.to_thread(rcode_tcp, mdns.port, q) == dns.rcode.REFUSED
    q = dns.message.make_query("example.test.", "IXFR")
    assert await asyncio.to_thread(rcode_tcp, mdns.port, q) in (dns.rcode.REFUSED, dns.rcode.FORMERR)
    async with service.engine.begin() as conn:  # 127.0.0.1 becomes one of the pool's nameservers
        await conn.execute(t.pool_nameservers.insert().values(
            id="ns-1", pool_id=zone["pool_id"], host="127.0.0.1", port=53,
            created_at=sa.func.now()))
    q = dns.message.make_query("example.test.", "AXFR")
    assert await asyncio.to_thread(rcode_tcp, mdns.port, q) == dns.rcode.NOERROR
    # SOA queries are never restricted
    r = await dns.asyncquery.udp(dns.message.make_query("example.test.", "SOA"), "127.0.0.1",
                                 port=mdns.port, timeout=5)
    assert r.rcode() == 0


def test_notify_message_is_a_notify() -> None:
    m = make_notify("example.test.", 42)
    assert m.opcode() == dns.opcode.NOTIFY and m.flags & dns.flags.AA
    again = dns.message.from_wire(m.to_wire())
    assert again.opcode() == dns.opcode.NOTIFY and again.answer[0][0].serial == 42


def test_hand_built_notify_matches_dnspython() -> None:
    for serial in (42, None, 4294967295):
        m = dns.message.from_wire(notify_wire("Example.test.", serial, 4711))
        assert m.id == 4711 and m.opcode() == dns.opcode.NOTIFY and m.flags & dns.flags.AA
        assert m.question[0].name == dns.name.from_text("example.test.")
        assert m.question[0].rdtype == dns.rdatatype.SOA
        assert [rr.serial for rrs in m.answer for rr in rrs] == ([] if serial is None else [serial])
        ref = make_notify("Example.test.", serial)
        ref.id = 4711
        assert m == ref


async def test_notify_in_for_secondary_zones(mdns: MdnsServer, service: Service,
                                             admin: Context, zone: dict[str, Any]) -> None:
    sec = await service.create_zone(admin, {"name": "sec.test.", "type": "SECONDARY",
                                            "masters": ["127.0.0.1:5399"]})
    target = [("127.0.0.1", mdns.port)]
    # from the master's address (any port): acknowledged, and a transfer job is queued
    assert await send_notify("sec.test.", 777, target, source="127.0.0.1", timeout=0.5) == \
        {target[0]: True}
    async with service.engine.connect() as conn:
        job = (await conn.execute(sa.select(t.jobs).where(t.jobs.c.zone_id == sec["id"],
                                                          t.jobs.c.kind == "transfer"))).one()
    assert job.target_serial == 777 and job.state == "pending"
    # from elsewhere: REFUSED (no ack)
    assert await send_notify("sec.test.", 778, target, source="127.0.0.2", timeout=0.5,
                             retries=0) == {target[0]: False}
    # primary or unknown zones: NOTAUTH
    for name in ("example.test.", "unknown.test."):
        m = make_notify(name, 1)
        r = await dns.asyncquery.udp(m, "127.0.0.1", port=mdns.port, timeout=5)
        assert r.rcode() == dns.rcode.NOTAUTH


async def test_notify_out_retries_and_tsig(mdns: MdnsServer, service: Service, admin: Context,
                                           zone: dict[str, Any]) -> None:
    from dnsaas.testing.ports import free_port
    sec = await service.create_zone(admin, {"name": "sec2.test.", "type": "SECONDARY",
                                            "masters": ["127.0.0.1"]})
    key = await add_key(service, admin, sec, name="notify-key", scope="ZONE")
    silent = ("127.0.0.1", free_port())
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    acks = await send_notify("sec2.test.", 5, [("127.0.0.1", mdns.port), silent],
                             source="127.0.0.1", tsig=key, timeout=0.1, retries=2)
    assert acks == {("127.0.0.1", mdns.port): True, silent: False}
    assert 0.6 <= loop.time() - t0 < 3  # 0.1 + 0.2 + 0.4 of retries, concurrently


async def test_catalog_zone(mdns: MdnsServer, service: Service, admin: Context,
                            zone: dict[str, Any]) -> None:
    other = await service.create_zone(admin, {"name": "member2.test.", "email": "h@m.test"})
    gone = await service.create_zone(admin, {"name": "gone.test.", "email": "h@m.test"})
    await service.delete_zone(admin, gone["id"])
    async with service.engine.begin() as conn:
        await conn.execute(t.pools.update().where(t.pools.c.id == zone["pool_id"]).values(
            catalog_zone_fqdn="catalog.invalid.", catalog_serial=9))
    z = await asyncio.to_thread(lambda: dns.zone.from_xfr(dns.query.xfr(
        "127.0.0.1", "catalog.invalid.", port=mdns.port, timeout=5)))
    soa = z.get_soa()
    assert soa.serial == 9 and soa.expire == 2147483646
    assert z.find_rdataset("@", "NS")[0].to_text() == "invalid."
    assert z.find_rdataset("version", "TXT")[0].to_text() == '"2"'
    ptrs = {str(name): rds[0].to_text() for name, rds in
            ((n, node.get_rdataset(1, dns.rdatatype.PTR)) for n, node in z.nodes.items()) if rds}
    assert ptrs == {f"{zone['id']}.zones": "example.test.", f"{other['id']}.zones": "member2.test."}
    r = await dns.asyncquery.udp(dns.message.make_query("catalog.invalid.", "SOA"), "127.0.0.1",
                                 port=mdns.port, timeout=5)
    assert r.rcode() == 0 and r.answer[0][0].serial == 9
    r = await dns.asyncquery.udp(dns.message.make_query(f"{zone['id']}.zones.catalog.invalid.",
                                                        "PTR"), "127.0.0.1", port=mdns.port, timeout=5)
    assert r.answer[0][0].to_text() == "example.test."
    # IXFR of a catalog is answered AXFR-style
    out = await dig(mdns.port, "catalog.invalid.", "IXFR=3")
    assert out.count("\tSOA\t") == 2 and "member2.test." in out
