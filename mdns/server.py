"""The mdns sockets: asyncio UDP and TCP listeners around :class:`mdns.handler.Handler`.

Start it programmatically::

    async with MdnsServer(settings, engine) as srv:   # binds settings.mdns_host/mdns_port
        print(srv.host, srv.port)                     # port 0 in settings → a free port
        ...

or ``await srv.start()`` / ``await srv.stop()``; ``await srv.serve_forever()`` blocks.

TCP: two-byte length-prefixed messages, several queries per connection, answered in order;
an idle connection (no complete query within ``idle_timeout``) or a stalled reader (a write
that cannot drain within ``write_timeout``) is closed; at most ``max_connections`` are open
at once (others are closed on accept). Several processes may serve one database: the only
state kept here is caches keyed by serial.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from dnsaas.settings import Settings
from mdns.handler import Handler
from mdns.memory import keep_freed_memory
from mdns.zonedata import reader_engine

log = logging.getLogger(__name__)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: MdnsServer):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(self.server._udp_tasks) >= self.server.max_udp_inflight:
            return  # shed load rather than queue without bound
        task = asyncio.get_running_loop().create_task(self._answer(data, addr))
        self.server._udp_tasks.add(task)
        task.add_done_callback(self.server._udp_tasks.discard)

    async def _answer(self, data: bytes, addr: Any) -> None:
        gen = self.server.handler.handle(data, (addr[0], addr[1]), False)
        try:
            async for msg in gen:
                if self.transport is not None and not self.transport.is_closing():
                    self.transport.sendto(msg, addr)
        except Exception:
            log.exception("UDP request from %s failed", addr)
        finally:
            await gen.aclose()

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)


class MdnsServer:
    """UDP + TCP DNS listeners answering from the database."""

    def __init__(self, settings: Settings, engine: AsyncEngine, *, host: str | None = None,
                 port: int | None = None, idle_timeout: float = 10.0, write_timeout: float = 30.0,
                 max_connections: int = 256, max_udp_inflight: int = 1024):
        self.settings = settings
        self.engine = engine
        self.host = host or settings.mdns_host
        self.port = settings.mdns_port if port is None else port
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.max_connections = max_connections
        self.max_udp_inflight = max_udp_inflight
        self.reader = reader_engine(engine)
        self.handler = Handler(settings, engine, self.reader)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._udp_tasks: set[asyncio.Task[None]] = set()
        self._conns: set[asyncio.Task[Any]] = set()

    async def start(self) -> MdnsServer:
        """Bind TCP then UDP on the same port (a free one if the port is 0)."""
        keep_freed_memory(self.settings.transfer_cache_bytes)  # cheap cache evictions
        await self.handler.warm_up()
        loop = asyncio.get_running_loop()
        for attempt in range(20):
            self._tcp = await asyncio.start_server(self._client, self.host, self.port,
                                                   backlog=128, reuse_address=True)
            port = self._tcp.sockets[0].getsockname()[1]
            try:
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), local_addr=(self.host, port), family=family)
            except OSError:
                self._tcp.close()
                await self._tcp.wait_closed()
                if self.port or attempt == 19:
                    raise
                continue
            self._udp = transport
            self.port = port
            break
        log.info("mdns listening on %s port %d (UDP and TCP)", self.host, self.port)
        return self

    async def stop(self) -> None:
        """Stop listening, end open connections and in-flight answers."""
        if self._tcp is not None:
            self._tcp.close()
        if self._udp is not None:
            self._udp.close()
        for task in list(self._conns) + list(self._udp_tasks):
            task.cancel()
        await asyncio.gather(*self._conns, *self._udp_tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()
        if self.reader is not self.engine:
            await self.reader.dispose()

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> MdnsServer:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # --- TCP ----------------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._conns) >= self.max_connections:
            writer.close()
            return
        assert task is not None
        self._conns.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), self.idle_timeout)
                    (length,) = struct.unpack("!H", head)
                    data = await asyncio.wait_for(reader.readexactly(length), self.idle_timeout)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                gen = self.handler.handle(data, (peer[0], peer[1]), True)
                try:
                    async for msg in gen:
                        if writer.transport.is_closing():
                            return  # the client went away: stop rendering for it
                        writer.write(struct.pack("!H", len(msg)) + msg)  # one send per message
                        if writer.transport.get_write_buffer_size() > 1 << 20:
                            await asyncio.wait_for(writer.drain(), self.write_timeout)
                    await asyncio.wait_for(writer.drain(), self.write_timeout)
                finally:
                    await gen.aclose()
        except (TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("TCP connection from %s failed", peer)
        finally:
            self._conns.discard(task)
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except Exception:
                pass
