"""Garbage in: 10,000 random and mutated packets, then mdns still answers; stalled TCP is cut."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import time
from typing import Any

import dns.asyncquery
import dns.message
import dns.rrset
import pytest

from mdns.server import MdnsServer


def _seeds() -> list[bytes]:
    out = []
    for name, rtype in [("example.test.", "SOA"), ("www.example.test.", "A"),
                        ("x.wild.example.test.", "TXT"), ("example.test.", "AXFR"),
                        ("host.sub.example.test.", "A")]:
        out.append(dns.message.make_query(name, rtype, use_edns=0).to_wire())
    q = dns.message.make_query("example.test.", "IXFR")
    q.authority.append(dns.rrset.from_text("example.test.", 0, "IN", "SOA", ". . 1 0 0 0 0"))
    out.append(q.to_wire())
    return out


def _mutate(rng: random.Random, seed: bytes) -> bytes:
    b = bytearray(seed)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        if op < 0.5 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op < 0.7:
            b = b[:rng.randrange(len(b) + 1)]
        elif op < 0.85:
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:  # counts in the header
            if len(b) >= 12:
                struct.pack_into("!H", b, rng.choice((4, 6, 8, 10)), rng.randrange(65536))
    return bytes(b)


def _blast(port: int, n: int, seed: int) -> int:
    rng = random.Random(seed)
    seeds = _seeds()
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        for i in range(n):
            if i % 3 == 0:
                pkt = bytes(rng.randrange(256) for _ in range(rng.randint(0, 600)))
            else:
                pkt = _mutate(rng, rng.choice(seeds))
            try:
                s.sendto(pkt, ("127.0.0.1", port))
            except BlockingIOError:
                pass
            if i % 50 == 49:  # pace the sender and drain answers
                deadline = time.monotonic() + 0.05
                while time.monotonic() < deadline:
                    try:
                        s.recv(65535)
                        answered += 1
                    except BlockingIOError:
                        time.sleep(0.001)
    return answered


def _tcp_garbage(port: int, rng: random.Random) -> None:
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            payload = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
            try:
                s.sendall(struct.pack("!H", rng.randrange(65536)) + payload)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(2)
                while s.recv(65535):
                    pass
            except OSError:
                pass


async def test_fuzz_then_still_answers(mdns: MdnsServer, zone: dict[str, Any],
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="mdns")
    answered = await asyncio.to_thread(_blast, mdns.port, 10_000, 1234)
    assert answered > 100
    await asyncio.to_thread(_tcp_garbage, mdns.port, random.Random(5))
    r = await dns.asyncquery.udp(dns.message.make_query("example.test.", "SOA"), "127.0.0.1",
                                 port=mdns.port, timeout=5)
    assert r.rcode() == 0 and r.answer[0][0].serial == zone["serial"]
    r = await dns.asyncquery.tcp(dns.message.make_query("www.example.test.", "A"), "127.0.0.1",
                                 port=mdns.port, timeout=5)
    assert r.rcode() == 0 and r.answer
    assert [rec for rec in caplog.records if rec.levelno >= logging.ERROR] == []


async def test_stalled_tcp_client_is_timed_out(service: Any, zone: dict[str, Any]) -> None:
    async with MdnsServer(service.settings, service.engine, host="127.0.0.1", port=0,
                          idle_timeout=0.3, max_connections=4) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"\x00\x30\x01")  # a length prefix and one byte of a 48-byte message
        await writer.drain()
        t0 = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        assert time.monotonic() - t0 < 2
        writer.close()
        # a cap on concurrent connections: the fifth is closed at once, the server lives on
        conns = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(5)]
        closed = await asyncio.wait_for(conns[-1][0].read(), 5)
        assert closed == b""
        for _, w in conns:
            w.close()
        r = await dns.asyncquery.tcp(dns.message.make_query("example.test.", "SOA"), "127.0.0.1",
                                     port=srv.port, timeout=5)
        assert r.rcode() == 0
