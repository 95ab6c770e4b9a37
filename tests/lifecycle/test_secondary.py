"""SECONDARY zones against a real BIND primary: AXFR into the database, served by mdns, updated
after a NOTIFY, an oversized transfer cut off, a master that is down (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.message
import dns.rdatatype
import pytest
import sqlalchemy as sa
from lifehelp import need

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.settings import Settings
from dnsaas.storage import tables as t
from dnsaas.testing.peers import BindServer
from mdns.notify import send_notify
from mdns.server import MdnsServer
from workers.worker import Worker

ZONE = "sec.test."
ALICE = Context(project_id="project-alice", roles=frozenset({"member"}))


def zone_text(serial: int, www: str, hosts: int) -> str:
    lines = [f"$ORIGIN {ZONE}", "$TTL 300",
             f"@ IN SOA ns1.{ZONE} admin.{ZONE} {serial} 60 30 600 300",
             f"@ IN NS ns1.{ZONE}", "ns1 IN A 192.0.2.1", f"www 120 IN A {www}",
             'txt IN TXT "secondary data"', f"mail IN MX 10 ns1.{ZONE}"]
    lines += [f"h{i} IN A 10.0.{i // 250}.{i % 250 + 1}" for i in range(hosts)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def primary(tmp_path: Path) -> Any:
    need(BindServer.available(), "BIND binaries")
    path = tmp_path / "sec.test.db"
    path.write_text(zone_text(2024010101, "192.0.2.10", 2000))
    server = BindServer(primary_zones={ZONE: path})
    server.start()
    server.zone_path = path  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def stack(service: Service, settings: Settings) -> AsyncIterator[tuple[MdnsServer, Worker]]:
    async with MdnsServer(settings, service.engine, host="127.0.0.1", port=0) as mdns, \
            Worker(service, settings, retry_base=0.05, retry_cap=0.2) as worker:
        yield mdns, worker


async def eventually(pred: Callable[[], Any], limit: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + limit
    while True:
        got = pred()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {limit} s: {what}")
        await asyncio.sleep(0.02)


async def ask(mdns: MdnsServer, name: str, rdtype: str = "A") -> list[str]:
    q = dns.message.make_query(name, rdtype)
    r = await dns.asyncquery.udp(q, "127.0.0.1", port=mdns.port, timeout=2)
    return [rd.to_text() for rrset in r.answer for rd in rrset]


async def zone_row(service: Service, zone_id: str) -> Any:
    async def run(conn: Any) -> Any:
        return (await conn.execute(sa.select(t.zones).where(t.zones.c.id == zone_id))).first()
    return await service.read(run)


async def reload(primary: BindServer, text: str, serial: int) -> None:
    primary.zone_path.write_text(text)  # type: ignore[attr-defined]
    await asyncio.to_thread(primary.rndc, "reload", ZONE.rstrip("."), check=True)
    await eventually(lambda: primary.query_soa_serial(ZONE) == serial, what="BIND reloaded")


async def test_secondary_zone_from_bind(service: Service, primary: BindServer,
                                        stack: tuple[MdnsServer, Worker]) -> None:
    mdns, worker = stack
    host, port = primary.endpoint
    zone = await service.create_zone(ALICE, {"name": ZONE, "type": "SECONDARY",
                                             "masters": [f"{host}:{port}"]})
    assert zone["serial"] == 1 and zone["email"] == "hostmaster@example.com"

    async def transferred() -> Any:
        row = await zone_row(service, zone["id"])
        return row if row.transferred_at is not None else None
    row = await eventually(transferred, what="first AXFR")
    assert row.serial == 2024010101 and (row.refresh, row.retry, row.expire) == (60, 30, 600)
    assert await ask(mdns, f"www.{ZONE}") == ["192.0.2.10"]
    assert await ask(mdns, f"h1999.{ZONE}") == ["10.0.7.250"]
    assert await ask(mdns, f"txt.{ZONE}", "TXT") == ['"secondary data"']
    soa = await ask(mdns, ZONE, "SOA")
    assert soa[0].split()[2] == "2024010101"
    # Apex NS are the pool's; the count is exact (SOA + NS + 2004 from the master).
    assert await ask(mdns, ZONE, "NS") == ["ns1.example.com."]
    assert row.recordset_count == 2 + 2004
    # API: recordsets of a secondary zone are read-only.
    listed = await service.get_zone(ALICE, zone["id"])
    assert listed["transferred_at"] is not None

    # The master changes; its NOTIFY triggers a pull.
    await reload(primary, zone_text(2024010102, "192.0.2.11", 1999), 2024010102)
    acks = await send_notify(ZONE, 2024010102, [("127.0.0.1", mdns.port)])
    assert all(acks.values())
    await eventually(lambda: _serial_is(service, zone["id"], 2024010102), what="NOTIFY → pull")
    assert await ask(mdns, f"www.{ZONE}") == ["192.0.2.11"]
    assert await ask(mdns, f"h1998.{ZONE}") == ["10.0.7.249"]
    assert await ask(mdns, f"h1999.{ZONE}") == []  # removed on the master
    row = await zone_row(service, zone["id"])
    assert row.recordset_count == 2 + 2003

    # An oversized transfer is cut off: the zone keeps its last good data.
    worker.lifecycle.transfers.max_records = 500
    await reload(primary, zone_text(2024010103, "192.0.2.12", 1999), 2024010103)
    await service.xfr_zone(ALICE, zone["id"])
    await eventually(lambda: _job_failed(service, zone["id"]), what="transfer refused")
    assert await ask(mdns, f"www.{ZONE}") == ["192.0.2.11"]
    assert (await zone_row(service, zone["id"])).serial == 2024010102
    worker.lifecycle.transfers.max_records = 1_000_000

    # A master that is down: the zone keeps serving its last data, and is not ERROR.
    await asyncio.to_thread(primary.stop)
    await service.xfr_zone(ALICE, zone["id"])
    await eventually(lambda: _job_failed(service, zone["id"]), what="master down noticed")
    assert await ask(mdns, f"www.{ZONE}") == ["192.0.2.11"]
    assert (await zone_row(service, zone["id"])).status != "ERROR"


async def _serial_is(service: Service, zone_id: str, serial: int) -> bool:
    return bool((await zone_row(service, zone_id)).serial == serial)


async def _job_failed(service: Service, zone_id: str) -> bool:
    async def run(conn: Any) -> Any:
        return (await conn.execute(sa.select(t.jobs.c.last_error, t.jobs.c.attempts).where(
            t.jobs.c.zone_id == zone_id, t.jobs.c.kind == "transfer"))).first()
    row = await service.read(run)
    return row is not None and row.last_error is not None and row.attempts >= 1
