"""NOTIFY out (RFC 1996): tell secondaries that a zone changed. Called by the worker.

::

    acks = await send_notify("example.com.", 1700000000, [("127.0.0.1", 5300)],
                             source="127.0.0.1", tsig=key, timeout=1.0, retries=4)
    # {("127.0.0.1", 5300): True}

Each target gets a UDP NOTIFY (opcode NOTIFY, AA set, the zone's SOA in the question and a
SOA carrying ``serial`` in the answer section as a hint) from ``source`` (the address the
secondaries know as their primary; ephemeral port). Unanswered NOTIFYs are retransmitted
with exponential backoff starting at ``timeout`` seconds, up to ``retries`` retransmissions.
A target counts as acknowledged when it answers NOERROR with a matching ID, QR and opcode
(and, with ``tsig``, a response signed with the same key). REFUSED/NOTAUTH/other rcodes end
the attempts for that target with False. All targets are notified concurrently.

``tsig`` is a :class:`dns.tsig.Key` (see :func:`mdns.tsig.make_key`).

Unsigned NOTIFYs to IPv4 targets (the worker sends one per change burst of a zone) go through
the process's shared UDP socket per source address (:mod:`dnsaas.udpclient`): no socket set-up
per NOTIFY. Secondaries match a NOTIFY's source address, never its port (peers.md), so a shared
ephemeral port is fine.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.tsig

from dnsaas import udpclient
from dnsaas.udpclient import ipv4_literal

log = logging.getLogger(__name__)

Target = tuple[str, int]


def make_notify(zone_name: str, serial: int | None, tsig: dns.tsig.Key | None = None
                ) -> dns.message.Message:
    """The NOTIFY message. Flags are set *before* the opcode: ``set_opcode`` writes into
    ``flags``, so assigning flags afterwards would turn the NOTIFY back into a QUERY."""
    zone = dns.name.from_text(zone_name)
    m = dns.message.make_query(zone, dns.rdatatype.SOA)
    m.flags = dns.flags.AA
    m.set_opcode(dns.opcode.NOTIFY)
    if serial is not None:
        soa = dns.rdtypes.ANY.SOA.SOA(dns.rdataclass.IN, dns.rdatatype.SOA, dns.name.root,
                                      dns.name.root, serial, 0, 0, 0, 0)
        m.answer.append(dns.rrset.from_rdata(zone, 0, soa))
    if tsig is not None:
        m.use_tsig(tsig)
    return m


class _Proto(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.queue.full():
            self.queue.put_nowait(data)


async def _notify_one(zone_name: str, serial: int | None, target: Target, source: str | None,
                      tsig: dns.tsig.Key | None, timeout: float,  # noqa: ASYNC109 (per-try timeout)
                      retries: int) -> bool:
    host, port = target
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    local = (source, 0) if source else None
    try:
        transport, proto = await loop.create_datagram_endpoint(
            _Proto, local_addr=local, remote_addr=(host, port), family=family)
    except OSError as exc:
        log.warning("NOTIFY %s to %s:%d: %s", zone_name, host, port, exc)
        return False
    try:
        msg = make_notify(zone_name, serial, tsig)
        wire = msg.to_wire()
        wait = timeout
        for attempt in range(retries + 1):
            transport.sendto(wire)
            deadline = loop.time() + wait
            while (left := deadline - loop.time()) > 0:
                try:
                    data = await asyncio.wait_for(proto.queue.get(), left)
                except TimeoutError:
                    break
                try:
                    resp = dns.message.from_wire(
                        data, keyring={tsig.name: tsig} if tsig is not None else None,
                        request_mac=msg.mac if tsig is not None else b"")
                except Exception as exc:  # unsigned/badly signed/garbage: keep waiting
                    log.debug("NOTIFY %s: bad response from %s:%d: %s", zone_name, host, port, exc)
                    continue
                if resp.id != msg.id or not resp.flags & dns.flags.QR or \
                        resp.opcode() != dns.opcode.NOTIFY:
                    continue
                if resp.rcode() == dns.rcode.NOERROR:
                    return True
                log.info("NOTIFY %s to %s:%d answered %s", zone_name, host, port,
                         dns.rcode.to_text(resp.rcode()))
                return False
            log.debug("NOTIFY %s to %s:%d: no answer (attempt %d)", zone_name, host, port,
                      attempt + 1)
            wait *= 2
        return False
    finally:
        transport.close()


def notify_wire(zone_name: str, serial: int | None, qid: int) -> bytes:
    """The unsigned NOTIFY of :func:`make_notify` with ID ``qid``, as wire bytes."""
    m = make_notify(zone_name, serial)
    m.id = qid
    return m.to_wire()


def _notify_ack(data: bytes) -> bool:
    """True for a NOTIFY response (QR set, opcode NOTIFY); other datagrams are ignored."""
    try:
        m = dns.message.from_wire(data)
    except (dns.exception.DNSException, ValueError):
        return False
    return bool(m.flags & dns.flags.QR) and m.opcode() == dns.opcode.NOTIFY


async def _notify_shared(zone_name: str, serial: int | None, target: Target, ip: str,
                         source: str | None, timeout: float,  # noqa: ASYNC109 (per-try timeout)
                         retries: int) -> bool:
    wire = notify_wire(zone_name, serial, 0)  # the exchange gives each try a fresh ID
    wait = timeout
    for attempt in range(retries + 1):
        try:
            ack = await udpclient.exchange(wire, (ip, target[1]), wait, source=source,
                                           accept=_notify_ack)
        except TimeoutError:
            log.debug("NOTIFY %s to %s:%d: no answer (attempt %d)", zone_name, target[0],
                      target[1], attempt + 1)
            wait *= 2
            continue
        except OSError as exc:
            log.warning("NOTIFY %s to %s:%d: %s", zone_name, target[0], target[1], exc)
            return False
        rcode = dns.message.from_wire(ack).rcode()
        if rcode == dns.rcode.NOERROR:
            return True
        log.info("NOTIFY %s to %s:%d answered %s", zone_name, target[0], target[1],
                 dns.rcode.to_text(rcode))
        return False
    return False


async def send_notify(zone_name: str, serial: int | None, targets: list[Target], *,
                      source: str | None = None, tsig: dns.tsig.Key | None = None,
                      timeout: float = 1.0,  # noqa: ASYNC109 (per-try timeout)
                      retries: int = 4) -> dict[Target, bool]:
    """NOTIFY every target concurrently; returns who acknowledged (see module docstring)."""
    unique = list(dict.fromkeys((str(h), int(p)) for h, p in targets))

    def one(t: Target) -> Any:
        ip = ipv4_literal(t[0]) if tsig is None and (source is None or ipv4_literal(source)) \
            else None
        if ip is not None:
            return _notify_shared(zone_name, serial, t, ip, source, timeout, retries)
        return _notify_one(zone_name, serial, t, source, tsig, timeout, retries)
    results = await asyncio.gather(*(one(t) for t in unique))
    return dict(zip(unique, results, strict=True))
