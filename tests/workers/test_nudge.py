"""Early NOTIFY: a change committed while a run for its zone is in flight (or shortly after one)
NOTIFYs the nameservers at once (PostgreSQL: the zone id comes with LISTEN), and the next run
still confirms it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import dns.message
import dns.opcode
import dns.rrset
import pytest
import sqlalchemy as sa

from dnsaas.context import Context
from dnsaas.pools import apply_pools, load_pools_yaml
from dnsaas.service import Service
from dnsaas.settings import DEFAULT_POOL_ID, Settings
from dnsaas.storage import db
from workers.worker import Worker


async def until(pred: Callable[[], Awaitable[bool]], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not await pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


class Secondary(asyncio.DatagramProtocol):
    """Answers SOA with ``serial`` (for any zone) and acknowledges NOTIFYs, recording them."""

    def __init__(self) -> None:
        self.serial = 0
        self.notifies: list[dns.message.Message] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        if q.opcode() == dns.opcode.NOTIFY:
            self.notifies.append(q)
        else:
            name = q.question[0].name
            r.answer.append(dns.rrset.from_text(name, 300, "IN", "SOA",
                                                f"ns1.{name} h.{name} {self.serial} 1 2 3 4"))
        assert self.transport is not None
        self.transport.sendto(r.to_wire(), addr)


@pytest.fixture
async def secondary() -> AsyncIterator[tuple[Secondary, int]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(Secondary,
                                                           local_addr=("127.0.0.1", 0))
    try:
        yield proto, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


async def test_change_during_run_notifies_at_once(pg_url: str, alice: Context,
                                                  secondary: tuple[Secondary, int]) -> None:
    server, port = secondary
    settings = Settings(database_url=pg_url, auth="noauth", worker_poll_timeout=10.0,
                        worker_lease_seconds=5)
    engine = db.create_engine(pg_url)
    try:
        service = Service(engine, settings)
        pools = load_pools_yaml(f"""
- name: default
  id: {DEFAULT_POOL_ID}
  description: one fake nameserver
  attributes: {{}}
  ns_records: [{{hostname: ns1.example.com., priority: 1}}]
  nameservers: [{{host: 127.0.0.1, port: {port}}}]
  targets:
    - type: fake
      masters: [{{host: 127.0.0.1, port: 5354}}]
""")

        async def apply(conn: sa.ext.asyncio.AsyncConnection) -> None:
            await apply_pools(conn, pools)
        await service.tx(apply)
        zone = await service.create_zone(alice, {"name": "n.example.com.",
                                                 "email": "a@example.com"})
        zid = zone["id"]
        server.serial = int(zone["serial"])
        async with Worker(service, settings, concurrency=4) as worker:
            for _ in range(500):
                if worker.wakeups.listening:
                    break
                await asyncio.sleep(0.01)
            assert worker.wakeups.listening

            async def zone_is(status: str) -> bool:
                return bool((await service.get_zone(alice, zid))["status"] == status)
            await until(lambda: zone_is("ACTIVE"))
            first = len(server.notifies)

            rs1 = await service.create_recordset(alice, zid, {
                "name": "a.n.example.com.", "type": "A", "records": ["192.0.2.1"]})

            async def in_flight() -> bool:
                return bool(zid in worker.propagator._known
                            and worker.propagator._known[zid].until == float("inf"))
            await until(in_flight)  # the run for rs1 polls; the secondary lags behind
            await until(lambda: _true(any(n.answer for n in server.notifies[first:])))
            assert all(n.answer for n in server.notifies[:first])  # regular NOTIFYs: serial

            await asyncio.sleep(0.3)  # rs1's own LISTEN delivery may have nudged; let it settle
            nudged, hintless = worker.propagator.nudged, _hintless(server)
            rs2 = await service.create_recordset(alice, zid, {
                "name": "b.n.example.com.", "type": "A", "records": ["192.0.2.2"]})
            # the early NOTIFY comes at once and has no serial hint (a secondary would drop a
            # stale one)
            await until(lambda: _true(worker.propagator.nudged > nudged
                                      and _hintless(server) > hintless), limit=2.0)
            assert await zone_is("PENDING")  # early NOTIFYs never mark anything

            server.serial = rs2["_serial"]
            for rs in (rs1, rs2):
                async def active(rid: str = rs["id"]) -> bool:
                    got = await service.get_recordset(alice, zid, rid)
                    return bool(got["status"] == "ACTIVE")
                await until(active)
            await until(lambda: zone_is("ACTIVE"))
            # a burst of changes is coalesced: at most a round per change, one in flight
            before = worker.propagator.nudged
            for i in range(20):
                await service.create_recordset(alice, zid, {
                    "name": f"c{i}.n.example.com.", "type": "A", "records": ["192.0.2.3"]})
            await asyncio.sleep(0.5)
            assert 1 <= worker.propagator.nudged - before <= 20
    finally:
        await engine.dispose()


def _hintless(server: Secondary) -> int:
    return sum(1 for n in server.notifies if not n.answer)


async def _true(value: bool) -> bool:
    return value
