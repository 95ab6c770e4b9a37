"""The worker end to end on both engines with the fake backend (no nameservers): statuses,
coalescing, retries, ERROR, recovery, deletion, pool changes without restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa

from backends.fake import FakeBackend
from dnsaas.context import Context
from dnsaas.errors import ZoneNotFound
from dnsaas.pools import apply_pools, load_pools_yaml
from dnsaas.service import Service
from dnsaas.settings import DEFAULT_POOL_ID, Settings
from dnsaas.storage import tables as t
from workers.worker import Worker


async def until(pred: Callable[[], Awaitable[bool]], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not await pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def pools_yaml(fail: bool) -> str:
    return f"""
- name: default
  id: {DEFAULT_POOL_ID}
  description: test pool
  attributes: {{}}
  ns_records:
    - hostname: ns1.example.com.
      priority: 1
  nameservers: []
  targets:
    - type: fake
      description: fake target
      masters: [{{host: 127.0.0.1, port: 5354}}]
      options: {{fail: {str(fail).lower()}}}
"""


async def set_pool(service: Service, fail: bool) -> None:
    pools = load_pools_yaml(pools_yaml(fail))

    async def run(conn: sa.ext.asyncio.AsyncConnection) -> None:
        await apply_pools(conn, pools)
    await service.tx(run)


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(update=dict(worker_retry_budget=3, worker_poll_timeout=0.5,
                                           recovery_interval=0.3, worker_lease_seconds=5))


async def status(service: Service, ctx: Context, zone_id: str) -> str:
    return str((await service.get_zone(ctx, zone_id))["status"])


async def test_zone_and_recordset_become_active(service: Service, fast: Settings,
                                                alice: Context) -> None:
    await set_pool(service, fail=False)
    FakeBackend.calls.clear()
    async with Worker(service, fast, concurrency=4, retry_base=0.01):
        zone = await service.create_zone(alice, {"name": "w.example.com.",
                                                 "email": "a@example.com"})
        zid = zone["id"]
        await until(lambda: _is(service, alice, zid, "ACTIVE"))
        rs = await service.create_recordset(alice, zid, {"name": "www.w.example.com.",
                                                         "type": "A", "records": ["192.0.2.1"]})
        assert rs["status"] == "PENDING"

        async def rs_active() -> bool:
            got = await service.get_recordset(alice, zid, rs["id"])
            return bool(got["status"] == "ACTIVE")
        await until(rs_active)
        z = await service.get_zone(alice, zid)
        assert (z["status"], z["action"]) == ("ACTIVE", "NONE")
        ops = [op for _, op, name in FakeBackend.calls if name == "w.example.com."]
        assert ops[0] == "create" and "update" in ops
        await service.delete_zone(alice, zid)

        async def gone() -> bool:
            try:
                await service.get_zone(alice, zid)
            except ZoneNotFound:
                return True
            return False
        await until(gone)
        assert ("delete" in [op for _, op, n in FakeBackend.calls if n == "w.example.com."])


async def _is(service: Service, ctx: Context, zid: str, want: str) -> bool:
    return await status(service, ctx, zid) == want


async def test_burst_coalesces(service: Service, fast: Settings, alice: Context) -> None:
    await set_pool(service, fail=False)
    zone = await service.create_zone(alice, {"name": "b.example.com.", "email": "a@example.com"})
    for i in range(20):
        await service.create_recordset(alice, zone["id"], {
            "name": f"r{i}.b.example.com.", "type": "A", "records": ["192.0.2.1"]})
    FakeBackend.calls.clear()
    async with Worker(service, fast, concurrency=4) as w:
        await until(lambda: _is(service, alice, zone["id"], "ACTIVE"))

        async def done() -> bool:
            async with service.engine.connect() as conn:
                return (await conn.execute(sa.select(t.jobs.c.state).where(
                    t.jobs.c.zone_id == zone["id"]))).scalar_one() == "done"
        await until(done)
        assert w.completed == 1  # 21 changes, one run
    assert [op for _, op, _n in FakeBackend.calls] == ["create"]


async def test_failing_target_goes_error_then_recovers(service: Service, fast: Settings,
                                                       alice: Context) -> None:
    await set_pool(service, fail=True)
    async with Worker(service, fast, concurrency=2, retry_base=0.01):
        zone = await service.create_zone(alice, {"name": "e.example.com.",
                                                 "email": "a@example.com"})
        await until(lambda: _is(service, alice, zone["id"], "ERROR"))
        async with service.engine.connect() as conn:
            job = (await conn.execute(sa.select(t.jobs).where(
                t.jobs.c.zone_id == zone["id"]))).one()
        assert job.state in ("error", "pending") and "fails on purpose" in job.last_error
        await set_pool(service, fail=False)  # picked up without a restart
        await until(lambda: _is(service, alice, zone["id"], "ACTIVE"))


async def test_pending_zone_without_job_is_recovered(service: Service, fast: Settings,
                                                     alice: Context) -> None:
    await set_pool(service, fail=False)
    zone = await service.create_zone(alice, {"name": "o.example.com.", "email": "a@example.com"})

    async def lose_job(conn: sa.ext.asyncio.AsyncConnection) -> None:
        await conn.execute(t.jobs.delete().where(t.jobs.c.zone_id == zone["id"]))
        await conn.execute(t.zones.update().where(t.zones.c.id == zone["id"]).values(
            updated_at=t.zones.c.created_at))
    await service.tx(lose_job)
    stale = fast.model_copy(update=dict(worker_poll_timeout=0.01, worker_lease_seconds=0.01))
    async with Worker(service, stale, concurrency=1):
        await until(lambda: _is(service, alice, zone["id"], "ACTIVE"))
