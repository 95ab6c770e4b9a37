"""The recordset create statements on PostgreSQL (dnsaas/service/pgcreate.py): the rows a create
updates (the zone, its SOA record, its job) change no indexed column, so PostgreSQL updates them
HOT (no new entry in any index); the read's generic plan finds the names at the owner through
the (zone_id, name, type) index even on small tables, not by scanning the zone's recordsets."""

from __future__ import annotations

import asyncpg

from dnsaas.context import Context
from dnsaas.service import Service, pgcreate, pgfast
from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.testing.databases import asyncpg_dsn

TABLES = ("zones", "records", "jobs")


async def _counts(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = await conn.fetch("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                            "WHERE relname = ANY($1::text[])", list(TABLES))
    return {r["relname"]: (r["n_tup_upd"], r["n_tup_hot_upd"]) for r in rows}


async def test_create_updates_are_hot(pg_url: str, alice: Context) -> None:
    engine = db.create_engine(pg_url)
    pgfast.keep_connections(engine, 1)  # every create on one backend, whose stats we flush
    admin = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        svc = Service(engine, Settings(database_url=pg_url))
        zone = await svc.create_zone(alice, {"name": "hot.example.", "email": "a@hot.example"})
        before = await _counts(admin)
        n = 8
        for i in range(n):
            await svc.create_recordset(alice, zone["id"], {
                "name": f"r{i}.hot.example.", "type": "A", "records": ["192.0.2.1"]})
        async with pgfast.driver(engine) as drv:  # flushed when it goes idle, before replying
            await drv.execute("SELECT pg_stat_force_next_flush()")
        after = await _counts(admin)
        # Other sessions' late stats can only add; each create updates each row once, HOT.
        for table in TABLES:
            updated = after[table][0] - before[table][0]
            hot = after[table][1] - before[table][1]
            assert updated >= n and hot >= n, (table, updated, hot)
    finally:
        await admin.close()
        await pgfast.release_connections(engine)
        await engine.dispose()


async def test_create_read_generic_plan_uses_the_owner_name_index(pg_url: str,
                                                                  alice: Context) -> None:
    engine = db.create_engine(pg_url)
    try:
        svc = Service(engine, Settings(database_url=pg_url))
        zone = await svc.create_zone(alice, {"name": "plan.example.", "email": "a@plan.example"})
        async with pgfast.driver(engine) as drv:
            await drv.execute("SET plan_cache_mode = force_generic_plan")
            try:
                plan = "\n".join(r[0] for r in await drv.fetch(
                    "EXPLAIN " + pgcreate.CREATE_READ, zone["id"], False, False, alice.project,
                    "a.plan.example.", ["a.plan.example.", "plan.example.", "example."]))
            finally:
                await drv.execute("RESET plan_cache_mode")
        assert "using ix_recordsets_zone_name_type on recordsets o " in plan, plan
    finally:
        await engine.dispose()
