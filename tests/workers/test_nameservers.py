"""SOA polling: parsing a wire response gives what dnspython reads from it, and the poll talks to a
real UDP server."""

from __future__ import annotations

import asyncio

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset

from workers.nameservers import Absent, parse_soa_serial, soa_serial

ZONE = "example.test."
QNAME = dns.name.from_text(ZONE).to_wire().lower()


def _response(rcode: int = dns.rcode.NOERROR, owner: str = ZONE, serial: int = 42,
              answer: bool = True, qname: str = ZONE) -> bytes:
    q = dns.message.make_query(qname, "SOA")
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    if answer:
        r.answer.append(dns.rrset.from_text(owner, 300, "IN", "SOA",
                                            f"ns1.{ZONE} host.{ZONE} {serial} 1 2 3 4"))
    return r.to_wire()  # owner and SOA names compressed against the question


def test_serial_from_compressed_answer() -> None:
    assert parse_soa_serial(_response(serial=4294967295), QNAME) == 4294967295
    assert parse_soa_serial(_response(serial=7), dns.name.from_text("EXAMPLE.test.")
                            .to_wire().lower()) == 7


def test_absent_and_unanswered() -> None:
    for rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH, dns.rcode.NXDOMAIN):
        assert parse_soa_serial(_response(rcode, answer=False), QNAME) is Absent.ZONE
    assert parse_soa_serial(_response(dns.rcode.SERVFAIL, answer=False), QNAME) is None
    # the parent's SOA (a NOERROR without ours) means the zone is not served there
    assert parse_soa_serial(_response(owner="test."), QNAME) is Absent.ZONE
    assert parse_soa_serial(_response()[:20], QNAME) is None  # truncated garbage
    query = dns.message.make_query(ZONE, "SOA").to_wire()  # QR bit clear
    assert parse_soa_serial(query, QNAME) is None


async def test_poll_against_udp_server() -> None:
    seen: list[dns.message.Message] = []

    class Server(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            q = dns.message.from_wire(data)
            seen.append(q)
            r = dns.message.make_response(q)
            r.answer.append(dns.rrset.from_text(ZONE, 300, "IN", "SOA",
                                                f"ns1.{ZONE} host.{ZONE} 99 1 2 3 4"))
            self.transport.sendto(r.to_wire(), addr)  # type: ignore[attr-defined]

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        got = await asyncio.gather(*(soa_serial(("127.0.0.1", port), ZONE) for _ in range(20)))
        assert got == [99] * 20
        assert not seen[0].flags & dns.flags.RD
        assert str(seen[0].question[0].name) == ZONE
    finally:
        transport.close()
    # nobody listening any more: no answer, quickly
    assert await soa_serial(("127.0.0.1", port), ZONE, wait=0.05) is None
