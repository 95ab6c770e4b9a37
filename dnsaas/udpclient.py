"""Many small DNS exchanges over UDP through one socket per event loop and source address.

The worker's SOA polls and mdns's NOTIFYs go out by the hundred per second; opening a socket
per message costs more than the message. Messages are built and parsed with dnspython by the
callers; this module only sends the wire, gives it a fresh ID and hands back the datagram that
came from the same address and port with that ID (the first two bytes of every DNS message).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import weakref
from collections.abc import Callable


def ipv4_literal(host: str) -> str | None:
    """``host`` as the canonical IPv4 text a socket reports back, or None (names, IPv6)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return str(ip) if isinstance(ip, ipaddress.IPv4Address) else None


Accept = Callable[[bytes], bool]


class _Exchanges(asyncio.DatagramProtocol):
    """One UDP socket; replies are matched to their waiter by (address, port, ID)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[tuple[str, int, int], tuple[asyncio.Future[bytes], Accept | None]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12:
            return
        key = (addr[0], addr[1], int.from_bytes(data[:2], "big"))
        entry = self.waiting.get(key)
        if entry is None or entry[0].done() or (entry[1] is not None and not entry[1](data)):
            return
        del self.waiting[key]
        entry[0].set_result(data)

    def connection_lost(self, exc: Exception | None) -> None:
        for fut, _ in self.waiting.values():
            if not fut.done():
                fut.set_exception(OSError("UDP socket closed"))
        self.waiting.clear()


_sockets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str | None, _Exchanges]] = \
    weakref.WeakKeyDictionary()


async def _socket(source: str | None) -> _Exchanges:
    loop = asyncio.get_running_loop()
    per_source = _sockets.setdefault(loop, {})
    proto = per_source.get(source)
    if proto is None or proto.transport is None or proto.transport.is_closing():
        _, proto = await loop.create_datagram_endpoint(
            _Exchanges, local_addr=(source, 0) if source else None, family=socket.AF_INET)
        per_source[source] = proto
    return proto


async def exchange(wire: bytes, dest: tuple[str, int], wait: float, *,
                   source: str | None = None, accept: Accept | None = None) -> bytes:
    """Send ``wire`` (its ID replaced by a free one) to the IPv4 ``dest`` and return the reply
    (the first one ``accept`` takes, when given). Raises TimeoutError after ``wait`` seconds
    and OSError when the socket fails."""
    proto = await _socket(source)
    key = (dest[0], dest[1], random.randrange(65536))
    while key in proto.waiting:
        key = (dest[0], dest[1], random.randrange(65536))
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()
    proto.waiting[key] = (fut, accept)
    # a timer instead of asyncio.wait_for, which wraps every exchange in a task of its own
    timer = loop.call_later(wait, lambda: fut.done() or fut.set_exception(TimeoutError()))
    try:
        assert proto.transport is not None
        proto.transport.sendto(key[2].to_bytes(2, "big") + wire[2:], dest)
        return await fut
    finally:
        timer.cancel()
        proto.waiting.pop(key, None)
