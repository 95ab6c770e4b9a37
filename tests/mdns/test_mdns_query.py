"""Authoritative answers from mdns, checked with dig and dnspython against a real server."""

from __future__ import annotations

import socket
import struct
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
from mdns_helpers import dig

from mdns.server import MdnsServer


async def ask(srv: MdnsServer, name: str, rtype: str, tcp: bool = False, **kw: Any) -> dns.message.Message:
    q = dns.message.make_query(name, rtype, **kw)
    q.flags &= ~dns.flags.RD
    fn = dns.asyncquery.tcp if tcp else dns.asyncquery.udp
    return await fn(q, "127.0.0.1", port=srv.port, timeout=5)


def section(m: dns.message.Message, name: str = "answer") -> set[tuple[str, str, int, str]]:
    return {(str(r.name), dns.rdatatype.to_text(r.rdtype), r.ttl, rd.to_text())
            for r in getattr(m, name) for rd in r}


async def test_soa_with_dig_udp_and_tcp(mdns: MdnsServer, zone: dict[str, Any]) -> None:
    for extra in ([], ["+tcp"]):
        out = await dig(mdns.port, "example.test.", "SOA", *extra)
        assert "status: NOERROR" in out
        assert " aa" in out.split("flags:")[1].split(";")[0]
        assert f" {zone['serial']} " in out


async def test_answers(mdns: MdnsServer, zone: dict[str, Any]) -> None:
    r = await ask(mdns, "WWW.Example.Test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert {x[3] for x in section(r)} == {"192.0.2.1", "192.0.2.2"}
    # TTL 0 stays 0; the zone TTL applies when the recordset has none
    r = await ask(mdns, "www.example.test.", "AAAA", tcp=True)
    assert section(r) == {("www.example.test.", "AAAA", 0, "2001:db8::1")}
    r = await ask(mdns, "mail.example.test.", "MX")
    assert section(r) == {("mail.example.test.", "MX", zone["ttl"], "10 www.example.test.")}


async def test_negative_answers(mdns: MdnsServer, zone: dict[str, Any]) -> None:
    r = await ask(mdns, "nope.example.test.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA and not r.answer
    assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA]
    assert r.authority[0][0].serial == zone["serial"]
    r = await ask(mdns, "www.example.test.", "TXT")  # NODATA
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA]
    r = await ask(mdns, "b.ent.example.test.", "A")  # empty non-terminal: NODATA
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and r.authority
    r = await ask(mdns, "x.b.ent.example.test.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN


async def test_cname_wildcard_delegation(mdns: MdnsServer, zone: dict[str, Any]) -> None:
    r = await ask(mdns, "alias.example.test.", "A")
    assert section(r) == {("alias.example.test.", "CNAME", 300, "www.example.test."),
                          ("www.example.test.", "A", zone["ttl"], "192.0.2.1"),
                          ("www.example.test.", "A", zone["ttl"], "192.0.2.2")}
    r = await ask(mdns, "outside.example.test.", "A")  # target outside the zone: CNAME only
    assert {x[1] for x in section(r)} == {"CNAME"}
    r = await ask(mdns, "alias.example.test.", "CNAME")
    assert {x[1] for x in section(r)} == {"CNAME"}
    r = await ask(mdns, "anything.wild.example.test.", "TXT")
    assert section(r) == {("anything.wild.example.test.", "TXT", zone["ttl"], '"wildcard"')}
    r = await ask(mdns, "deep.er.wild.example.test.", "TXT")
    assert r.rcode() == dns.rcode.NOERROR and section(r)
    r = await ask(mdns, "anything.wild.example.test.", "A")  # wildcard NODATA
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and r.authority
    r = await ask(mdns, "host.sub.example.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA and not r.answer
    assert section(r, "authority") == {
        ("sub.example.test.", "NS", zone["ttl"], "ns1.sub.example.test."),
        ("sub.example.test.", "NS", zone["ttl"], "ns.other.test.")}
    assert section(r, "additional") == {("ns1.sub.example.test.", "A", zone["ttl"], "192.0.2.53")}
    out = await dig(mdns.port, "sub.example.test.", "NS")
    assert "AUTHORITY: 2" in out and "192.0.2.53" in out


async def test_refused_outside_zones(mdns: MdnsServer, zone: dict[str, Any]) -> None:
    r = await ask(mdns, "www.example.org.", "A")
    assert r.rcode() == dns.rcode.REFUSED
    out = await dig(mdns.port, "example.org.", "SOA")
    assert "status: REFUSED" in out


async def test_deleting_zone_is_refused(mdns: MdnsServer, zone: dict[str, Any], service: Any,
                                        admin: Any) -> None:
    await service.delete_zone(admin, zone["id"])
    r = await ask(mdns, "example.test.", "SOA")
    assert r.rcode() == dns.rcode.REFUSED


def udp(port: int, wire: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        s.sendto(wire, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def rcode_of(wire: bytes | None) -> int:
    assert wire is not None
    return struct.unpack("!H", wire[2:4])[0] & 0xF


async def test_bad_input(mdns: MdnsServer, zone: dict[str, Any]) -> None:
    import asyncio
    q = dns.message.make_query("example.test.", "SOA")
    good = q.to_wire()
    # two questions
    two = good[:4] + struct.pack("!H", 2) + good[6:12] + good[12:] * 1 + good[12:]
    two = two[:12] + q.question[0].name.to_wire() + struct.pack("!HH", 6, 1) * 1 \
        + q.question[0].name.to_wire() + struct.pack("!HH", 1, 1)
    assert rcode_of(await asyncio.to_thread(udp, mdns.port, two)) == dns.rcode.FORMERR
    # garbage after a valid header
    assert rcode_of(await asyncio.to_thread(udp, mdns.port, good[:12] + b"\xff" * 20)) == dns.rcode.FORMERR
    # too short: dropped
    assert await asyncio.to_thread(udp, mdns.port, b"\x01\x02\x03") is None
    # a response (QR set): dropped
    assert await asyncio.to_thread(udp, mdns.port, good[:2] + b"\x84\x00" + good[4:]) is None
    # unknown opcodes and UPDATE: NOTIMP
    for opcode in (2, 5, 7, 15):
        flags = (opcode << 11)
        wire = good[:2] + struct.pack("!H", flags) + good[4:]
        assert rcode_of(await asyncio.to_thread(udp, mdns.port, wire)) == dns.rcode.NOTIMP
    # class CH
    chq = dns.message.make_query("version.bind.", "TXT", rdclass=dns.rdataclass.CH)
    assert rcode_of(await asyncio.to_thread(udp, mdns.port, chq.to_wire())) == dns.rcode.REFUSED
    # EDNS version 1: BADVERS
    r = await ask(mdns, "example.test.", "SOA", use_edns=1)
    assert r.rcode() == dns.rcode.BADVERS
    # the server still answers
    r = await ask(mdns, "example.test.", "SOA")
    assert r.rcode() == dns.rcode.NOERROR


async def test_udp_truncation(mdns: MdnsServer, service: Any, admin: Any, zone: dict[str, Any]) -> None:
    await service.create_recordset(admin, zone["id"], {
        "name": "big.example.test.", "type": "TXT",
        "records": [f'"{i:03d}' + "x" * 200 + '"' for i in range(20)]})
    r = await ask(mdns, "big.example.test.", "TXT", use_edns=False)
    assert r.flags & dns.flags.TC and not r.answer
    r = await ask(mdns, "big.example.test.", "TXT", tcp=True)
    assert len(r.answer[0]) == 20
