"""The job queue on both engines: claims, leases, coalescing, retries, concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.service.changes import upsert_job, utcnow
from dnsaas.storage import tables as t
from workers.queue import JobQueue, Wakeups


async def _zone(service: Service, alice: Context, name: str = "q.example.com.") -> str:
    zone = await service.create_zone(alice, {"name": name, "email": "a@example.com"})
    return str(zone["id"])


async def _job_row(service: Service, zone_id: str) -> sa.Row:
    async with service.engine.connect() as conn:
        return (await conn.execute(sa.select(t.jobs).where(t.jobs.c.zone_id == zone_id))).one()


async def test_claim_then_complete(service: Service, alice: Context) -> None:
    zone_id = await _zone(service, alice)
    q = JobQueue(service.engine, "w1")
    jobs = await q.claim(10)
    assert [j.zone_id for j in jobs] == [zone_id]
    job = jobs[0]
    assert job.zone is not None and job.zone.action == "CREATE"
    assert job.target_serial == job.zone.serial
    assert (await _job_row(service, zone_id)).state == "running"
    assert await q.claim(10) == []  # leased: nobody else gets it
    assert await q.complete(job) == "done"
    row = await _job_row(service, zone_id)
    assert (row.state, row.leased_by, row.lease_until) == ("done", None, None)
    assert await q.claim(10) == []


async def test_change_during_run_coalesces_into_one_more_run(service: Service,
                                                             alice: Context) -> None:
    zone_id = await _zone(service, alice)
    q = JobQueue(service.engine, "w1")
    (job,) = await q.claim(1)
    for i in range(5):  # a burst while the job runs
        await service.create_recordset(alice, zone_id, {"name": f"r{i}.q.example.com.",
                                                        "type": "A", "records": ["192.0.2.1"]})
    row = await _job_row(service, zone_id)
    assert row.state == "running" and row.target_serial > job.target_serial
    assert await q.complete(job) == "pending"
    (again,) = await q.claim(5)
    assert again.target_serial == row.target_serial
    assert again.zone is not None and again.zone.serial == row.target_serial
    assert await q.complete(again) == "done"
    assert await q.claim(5) == []


async def test_delete_with_same_serial_is_not_lost(service: Service, alice: Context) -> None:
    """A delete does not move the serial; the generation check still sees it."""
    zone_id = await _zone(service, alice)
    q = JobQueue(service.engine, "w1")
    (job,) = await q.claim(1)
    await service.delete_zone(alice, zone_id)
    assert await q.complete(job) == "pending"
    (again,) = await q.claim(1)
    assert again.zone is not None and again.zone.action == "DELETE"
    assert again.target_serial == job.target_serial


async def test_retry_backoff_and_give_up(service: Service, alice: Context) -> None:
    zone_id = await _zone(service, alice)
    q = JobQueue(service.engine, "w1")
    (job,) = await q.claim(1)
    assert await q.retry(job, "ns down", 60) == "pending"
    row = await _job_row(service, zone_id)
    assert row.attempts == 1 and row.last_error == "ns down"
    assert row.run_after > utcnow() + timedelta(seconds=50)
    assert await q.claim(1) == []  # not due yet
    wait = await q.seconds_until_due(300)
    assert 50 < wait <= 60
    # a new change makes it due at once, with a fresh budget
    await service.create_recordset(alice, zone_id, {"name": "x.q.example.com.", "type": "A",
                                                    "records": ["192.0.2.9"]})
    (job2,) = await q.claim(1)
    assert job2.attempts == 0
    assert await q.give_up(job2, "still down") == "error"
    row = await _job_row(service, zone_id)
    assert row.state == "error" and row.attempts == 1


async def test_expired_lease_is_reclaimed(service: Service, alice: Context) -> None:
    zone_id = await _zone(service, alice)
    dead = JobQueue(service.engine, "dead", lease_seconds=1.0)
    (job,) = await dead.claim(1)
    alive = JobQueue(service.engine, "alive")
    assert await alive.claim(1) == []  # leased
    for _ in range(500):  # the lease runs out; no renewal from the "dead" worker
        got = await alive.claim(1)
        if got:
            break
        await asyncio.sleep(0.01)
    (taken,) = got
    assert taken.zone_id == zone_id and taken.leased_by == "alive"
    # the dead worker's late completion must not clobber the new owner's lease
    assert await dead.complete(job) is None
    assert not await dead.extend(job)
    assert await alive.extend(taken)
    assert await alive.complete(taken) == "done"


async def test_concurrent_claims_are_disjoint(service: Service) -> None:
    ids = []
    for i in range(30):
        ctx = Context(project_id=f"p{i}", roles=frozenset({"member"}))
        ids.append(await _zone(service, ctx, f"c{i}.example.org."))
    queues = [JobQueue(service.engine, f"w{i}") for i in range(4)]

    async def drain(q: JobQueue) -> list[str]:
        got: list[str] = []
        while jobs := await q.claim(3):
            for j in jobs:
                got.append(j.zone_id)
                assert await q.complete(j) == "done"
        return got

    results = await asyncio.gather(*(drain(q) for q in queues))
    claimed = [z for r in results for z in r]
    assert sorted(claimed) == sorted(ids)  # every job exactly once


async def test_wakeup_on_commit(service: Service, alice: Context) -> None:
    async with Wakeups(service.engine) as wake:
        task = asyncio.create_task(wake.wait(10))
        await asyncio.sleep(0)
        await _zone(service, alice, "wake.example.com.")
        assert await asyncio.wait_for(task, 5) is True


async def test_upsert_after_done_is_pending_again(service: Service, alice: Context) -> None:
    zone_id = await _zone(service, alice)
    q = JobQueue(service.engine, "w1")
    (job,) = await q.claim(1)
    await q.complete(job)

    async def bump(conn: sa.ext.asyncio.AsyncConnection) -> None:
        await upsert_job(conn, zone_id, "propagate", job.target_serial + 1)
    await service.tx(bump)
    (job2,) = await q.claim(1)
    assert job2.target_serial == job.target_serial + 1


async def test_listen_wakeup_from_another_connection(pg_url: str) -> None:
    """pg_notify sent outside SQLAlchemy (as another process would) wakes the worker."""
    import asyncpg

    from dnsaas.storage import db

    engine = db.create_engine(pg_url)
    try:
        async with Wakeups(engine) as wake:
            for _ in range(500):
                if wake.listening:
                    break
                await asyncio.sleep(0.01)
            assert wake.listening
            await wake.wait(0)  # drop the wake-up given when LISTEN started
            task = asyncio.create_task(wake.wait(10))
            await asyncio.sleep(0)
            dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute("SELECT pg_notify('dnsaas_jobs', 'z')")
            finally:
                await conn.close()
            assert await asyncio.wait_for(task, 5) is True
    finally:
        await engine.dispose()


async def test_a_change_leaves_a_due_pending_job_due_since_it_was(service: Service,
                                                                  alice: Context) -> None:
    """``run_after`` (indexed) is only rewritten when it must move: a due pending job keeps it
    (and its place in the claim order); a delayed upsert still delays."""
    zone_id = await _zone(service, alice)
    first = await _job_row(service, zone_id)
    assert first.state == "pending" and first.run_after <= utcnow()
    for i in range(3):
        await service.create_recordset(alice, zone_id, {"name": f"d{i}.q.example.com.",
                                                        "type": "A", "records": ["192.0.2.1"]})
    row = await _job_row(service, zone_id)
    assert (row.state, row.run_after) == ("pending", first.run_after)
    assert row.target_serial > first.target_serial and row.updated_at > first.created_at
    async with service.engine.begin() as conn:
        await upsert_job(conn, zone_id, "propagate", row.target_serial, delay=60)
    assert (await _job_row(service, zone_id)).run_after > utcnow() + timedelta(seconds=50)
    q = JobQueue(service.engine, "w1")
    assert await q.claim(1) == []
