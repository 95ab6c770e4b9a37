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
one UDP socket per event loop and source address, with the message built by hand and the ack
parsed only as far as its header: no socket set-up and no dnspython per NOTIFY. Secondaries
match a NOTIFY's source address, never its port (peers.md), so a shared ephemeral port is fine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import struct
import weakref
from typing import Any

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


_NOTIFY_FLAGS = (int(dns.opcode.NOTIFY) << 11) | int(dns.flags.AA)


def notify_wire(zone_name: str, serial: int | None, qid: int) -> bytes:
    """The unsigned NOTIFY of :func:`make_notify` as wire bytes, built without dnspython."""
    qname = dns.name.from_text(zone_name).to_wire()
    head = struct.pack("!HHHHHH", qid, _NOTIFY_FLAGS, 1, 0 if serial is None else 1, 0, 0)
    wire = head + qname + b"\0\x06\0\x01"
    if serial is not None:  # owner: pointer to the question name; SOA ". . serial 0 0 0 0"
        wire += struct.pack("!HHHIH", 0xC00C, 6, 1, 0, 22) + b"\0\0" + struct.pack(
            "!IIIII", serial & 0xFFFFFFFF, 0, 0, 0, 0)
    return wire


class _Notifier(asyncio.DatagramProtocol):
    """One UDP socket for unsigned NOTIFYs; acks are matched by (address, port, ID)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[tuple[str, int, int], asyncio.Future[int]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12:
            return
        qid, flags = struct.unpack_from("!HH", data)
        if not flags & 0x8000 or (flags >> 11) & 0xF != int(dns.opcode.NOTIFY):
            return
        fut = self.waiting.pop((addr[0], addr[1], qid), None)
        if fut is not None and not fut.done():
            fut.set_result(flags & 0xF)

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in self.waiting.values():
            if not fut.done():
                fut.set_exception(OSError("NOTIFY socket closed"))
        self.waiting.clear()


_notifiers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str | None, _Notifier]] = \
    weakref.WeakKeyDictionary()


async def _notifier(source: str | None) -> _Notifier:
    loop = asyncio.get_running_loop()
    per_source = _notifiers.setdefault(loop, {})
    proto = per_source.get(source)
    if proto is None or proto.transport is None or proto.transport.is_closing():
        _, proto = await loop.create_datagram_endpoint(
            _Notifier, local_addr=(source, 0) if source else None, family=socket.AF_INET)
        per_source[source] = proto
    return proto


def _plain_ipv4(host: str) -> str | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return str(ip) if isinstance(ip, ipaddress.IPv4Address) else None


async def _notify_shared(zone_name: str, serial: int | None, target: Target, ip: str,
                         source: str | None, timeout: float,  # noqa: ASYNC109 (per-try timeout)
                         retries: int) -> bool:
    try:
        proto = await _notifier(source)
    except OSError as exc:
        log.warning("NOTIFY %s to %s:%d: %s", zone_name, target[0], target[1], exc)
        return False
    loop = asyncio.get_running_loop()
    wait = timeout
    for attempt in range(retries + 1):
        key = (ip, target[1], random.randrange(65536))
        while key in proto.waiting:
            key = (ip, target[1], random.randrange(65536))
        fut: asyncio.Future[int] = loop.create_future()
        proto.waiting[key] = fut
        timer = loop.call_later(wait, lambda f=fut: f.done() or f.set_exception(TimeoutError()))
        try:
            assert proto.transport is not None
            proto.transport.sendto(notify_wire(zone_name, serial, key[2]), (ip, target[1]))
            rcode = await fut
        except TimeoutError:
            log.debug("NOTIFY %s to %s:%d: no answer (attempt %d)", zone_name, target[0],
                      target[1], attempt + 1)
            wait *= 2
            continue
        except OSError as exc:
            log.warning("NOTIFY %s to %s:%d: %s", zone_name, target[0], target[1], exc)
            return False
        finally:
            timer.cancel()
            proto.waiting.pop(key, None)
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
        ip = _plain_ipv4(t[0]) if tsig is None and (source is None or _plain_ipv4(source)) \
            else None
        if ip is not None:
            return _notify_shared(zone_name, serial, t, ip, source, timeout, retries)
        return _notify_one(zone_name, serial, t, source, tsig, timeout, retries)
    results = await asyncio.gather(*(one(t) for t in unique))
    return dict(zip(unique, results, strict=True))
