"""The IXFR request path: database round trips per request, and consistent replies under writes.

The handler serves transfers without a snapshot transaction (autocommit on PostgreSQL): the
zone lookup gives one state of the zone and the journal chain is walked back from its serial.
These tests pin the round-trip count and check, while writes go on concurrently, that every
reply starts and ends with the same SOA, at a serial that exists, and that an incremental
reply's first difference starts at the requested serial.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from test_mdns_transfer import axfr_messages, rrs_of

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.storage import tables as t
from mdns import acl
from mdns.server import MdnsServer
from mdns.zonedata import find_zone


def _soa_serials(rrs: list[tuple[str, str, int, str]]) -> list[int]:
    return [int(r[3].split()[2]) for r in rrs if r[1] == "SOA"]


async def test_ixfr_round_trips(mdns: MdnsServer, service: Service, admin: Context,
                                zone: dict[str, Any]) -> None:
    await service.create_recordset(admin, zone["id"], {"name": "rt.example.test.", "type": "A",
                                                       "records": ["198.51.100.7"]})
    current = (await service.get_zone(admin, zone["id"]))["serial"]
    mdns.handler.keyring.interval = 3600.0  # no keyring re-check inside the counted requests
    await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "SOA")  # keyring loaded
    statements: list[tuple[str, Any]] = []
    transactions: list[str] = []

    def on_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append((statement, conn.get_execution_options().get("isolation_level")))

    def on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            transactions.append("BEGIN")

    # statements sent on the asyncpg connection directly (no SQLAlchemy cursor) count too
    logged: set[Any] = set()

    def on_raw_query(record: Any) -> None:
        statements.append((record.query, "AUTOCOMMIT"))

    def on_checkout(dbapi_conn: Any, *_: Any) -> None:
        drv = getattr(dbapi_conn, "driver_connection", None)
        if drv is not None and hasattr(drv, "add_query_logger") and drv not in logged:
            drv.add_query_logger(on_raw_query)
            logged.add(drv)

    engine = mdns.handler.reader.sync_engine
    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "begin", on_begin)
    sa.event.listen(engine.pool, "checkout", on_checkout)
    try:
        # cold: zone, ACL data and journal chain in one statement; then from the cache: the lookup
        for expected in (1, 1):
            statements.clear()
            transactions.clear()
            rrs = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR",
                                                 zone["serial"]))
            assert _soa_serials(rrs) == [current, zone["serial"], current, current]
            assert ("rt.example.test.", "A", zone["ttl"], "198.51.100.7") in rrs
            assert len(statements) == expected, statements
            assert transactions == [], "IXFR must not open a transaction"
            if service.engine.dialect.name == "postgresql":
                assert {level for _, level in statements} == {"AUTOCOMMIT"}
        # a current client: the lookup only, single SOA
        statements.clear()
        rrs = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR",
                                             current))
        assert _soa_serials(rrs) == [current] and len(rrs) == 1
        assert len(statements) == 1
        # that client after the next change (NOTIFYed): still one statement
        await service.create_recordset(admin, zone["id"], {"name": "rt2.example.test.", "type": "A",
                                                           "records": ["198.51.100.8"]})
        newer = (await service.get_zone(admin, zone["id"]))["serial"]
        statements.clear()
        rrs = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test.", "IXFR",
                                             current))
        assert _soa_serials(rrs) == [newer, current, newer, newer]
        assert len([s for s in statements if "zone_changes" in s[0] or "zones" in s[0]]) == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "begin", on_begin)
        sa.event.remove(engine.pool, "checkout", on_checkout)
        for drv in logged:
            drv.remove_query_logger(on_raw_query)


async def test_ixfr_consistent_while_writing(mdns: MdnsServer, service: Service, admin: Context,
                                             zone: dict[str, Any]) -> None:
    serials = [zone["serial"]]
    done = asyncio.Event()

    async def writer() -> None:
        try:
            for i in range(25):
                res = await service.create_recordset(
                    admin, zone["id"], {"name": f"w{i}.example.test.", "type": "A",
                                        "records": [f"198.51.100.{i + 1}"]})
                serials.append(res["_serial"] if "_serial" in res else
                               (await service.get_zone(admin, zone["id"]))["serial"])
        finally:
            done.set()

    replies: list[tuple[int, list[int]]] = []

    async def reader() -> None:
        n = 0
        while not done.is_set() or n < 5:
            asked = serials[n % len(serials)]
            rrs = rrs_of(await asyncio.to_thread(axfr_messages, mdns.port, "example.test.",
                                                 "IXFR", asked))
            replies.append((asked, _soa_serials(rrs)))
            n += 1

    await asyncio.wait_for(asyncio.gather(writer(), reader(), reader()), 120)
    written = set(serials)
    incremental = 0
    for asked, soas in replies:
        assert soas, (asked, soas)
        assert soas[0] == soas[-1] and soas[0] in written, (asked, soas)
        if len(soas) == 1:  # current: the client's serial is the served one
            assert soas[0] == asked
        elif len(soas) > 2:  # incremental: first difference starts at the client's serial
            incremental += 1
            assert soas[1] == asked and soas[-2] == soas[0], (asked, soas)
            froms = soas[1:-1:2]
            tos = soas[2:-1:2]
            assert froms[1:] == tos[:-1], (asked, soas)  # differences chain up
    assert incremental > 0


async def _two_step(service: Service, qname: str, source: str, key: Any,
                    allow: list[str]) -> tuple[str | None, int | None, bool]:
    """The decision as the zone lookup and the ACL function take it separately."""
    async with service.engine.connect() as conn:
        zone = await find_zone(conn, qname)
        if zone is None or zone.name != qname:
            return None, None, False
        allowed = await acl.transfer_allowed(conn, zone, source, key, allow)
        await conn.rollback()
    return zone.id, zone.serial, allowed


async def _one_step(service: Service, qname: str, source: str, key: Any,
                    allow: list[str]) -> tuple[str | None, int | None, bool]:
    async with service.engine.connect() as conn:
        zone, allowed, _chain = await acl.transfer_lookup(conn, qname, source, key, allow)
        await conn.rollback()
    return (zone.id, zone.serial, allowed) if zone is not None else (None, None, False)


async def test_transfer_lookup_matches_lookup_plus_acl(service: Service, admin: Context,
                                                       zone: dict[str, Any]) -> None:
    pool = zone["pool_id"]
    async with service.engine.begin() as conn:
        await conn.execute(t.pool_nameservers.insert().values(
            id="ns-x", pool_id=pool, host="192.0.2.200", port=53, created_at=sa.func.now()))
        await conn.execute(t.pools.update().where(t.pools.c.id == pool).values(
            catalog_zone_fqdn="Catalog.Invalid", catalog_serial=4))
        await conn.execute(t.pool_targets.insert().values(
            id="tg-x", pool_id=pool, type="bind9", options={"host": "192.0.2.210"},
            masters=[{"host": "192.0.2.211", "port": 5354}], created_at=sa.func.now()))
    cases = [("example.test.", "192.0.2.210", []), ("example.test.", "192.0.2.211", []),
             ("example.test.", "192.0.2.200", []), ("example.test.", "192.0.2.201", []),
             ("example.test.", "192.0.2.201", ["192.0.2.0/24"]), ("www.example.test.", "192.0.2.200", []),
             ("nothere.test.", "192.0.2.200", []), ("catalog.invalid.", "192.0.2.200", []),
             ("catalog.invalid.", "198.51.100.1", [])]
    expected = [True, True, True, False, True, None, None, True, False]
    for (qname, source, allow), want in zip(cases, expected, strict=True):
        one = await _one_step(service, qname, source, None, allow)
        assert one == await _two_step(service, qname, source, None, allow), qname
        assert (one[2] if one[0] else None) == want, (qname, source, one)
    # a key scoped to the zone: TSIG required, unsigned requests refused even from pool hosts
    await service.create_tsigkey(admin, {"name": "zk", "algorithm": "hmac-sha256",
                                         "secret": "c2VjcmV0c2VjcmV0", "scope": "ZONE",
                                         "resource_id": zone["id"]})
    one = await _one_step(service, "example.test.", "192.0.2.200", None, ["0.0.0.0/0"])
    assert one == await _two_step(service, "example.test.", "192.0.2.200", None, ["0.0.0.0/0"])
    assert one[0] == zone["id"] and one[2] is False
    # the catalog zone (other id) is not covered by the zone-scoped key
    assert (await _one_step(service, "catalog.invalid.", "192.0.2.200", None, []))[2] is True


async def test_requests_never_wait_for_the_key_check(mdns: MdnsServer, service: Service,
                                                     zone: dict[str, Any]) -> None:
    """The periodic TSIG key check runs in the background: with the tsigkeys table locked (the
    check blocked), queries are still answered at once (transfers read the table for their
    ACL, so they would wait for the lock anyway)."""
    if service.engine.dialect.name != "postgresql":
        pytest.skip("SQLite readers are not blocked by a writer's lock")
    keyring = mdns.handler.keyring
    keyring.interval = 0.0  # every request finds the keys due for a check
    async with service.engine.connect() as conn:
        await conn.execute(sa.text("LOCK TABLE tsigkeys IN ACCESS EXCLUSIVE MODE"))
        for _ in range(2):
            msgs = await asyncio.wait_for(asyncio.to_thread(
                axfr_messages, mdns.port, "example.test.", "SOA"), 10)
            assert _soa_serials(rrs_of(msgs)) == [zone["serial"]]
        assert keyring._pending is not None and not keyring._pending.done()  # still blocked
        await conn.rollback()
    for _ in range(200):
        if keyring._pending is None:
            break
        await asyncio.sleep(0.05)
    assert keyring._pending is None
