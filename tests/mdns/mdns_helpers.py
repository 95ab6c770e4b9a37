"""Helpers for mdns tests: dig, raw TCP reads."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import struct

import dns.message
import pytest


def need_dig() -> None:
    if shutil.which("dig") is None:
        if os.environ.get("DNSAAS_REQUIRE_PEERS") == "1":
            pytest.fail("dig is required in CI")
        pytest.skip("dig unavailable")


async def dig(port: int, *args: str) -> str:
    """Run dig against mdns; returns stdout."""
    need_dig()
    proc = await asyncio.create_subprocess_exec(
        "dig", "@127.0.0.1", "-p", str(port), "+norec", "+time=3", "+tries=1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode()


def raw_tcp(port: int, wire: bytes, timeout: float = 10.0) -> list[bytes]:
    """Send one length-prefixed query; read messages until the transfer's closing SOA or EOF.

    Stops after one message unless the first message starts a transfer (more than 1 answer).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        out: list[bytes] = []
        soas = 0
        while True:
            head = _read(s, 2)
            if not head:
                break
            msg = _read(s, struct.unpack("!H", head)[0])
            out.append(msg)
            m = dns.message.from_wire(msg, one_rr_per_rrset=True, ignore_trailing=True,
                                      keyring=False)
            soas += sum(1 for r in m.answer if r.rdtype == 6)
            if soas >= 2 or (len(out) == 1 and len(m.answer) <= 1):
                break
        return out


def _read(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return b""
        buf += chunk
    return buf
