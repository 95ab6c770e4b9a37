"""Zone imports whose API process died: the worker's recovery sweep ends them in ERROR (the file
is not stored, so they cannot be resumed) and nothing of them is created."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from lifehelp import ALICE, TEXT_DNS

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.service.imports import STALE_MESSAGE
from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.storage import tables as t
from dnsaas.testing.apiproc import wait_until_serving
from dnsaas.testing.ports import free_port
from workers.recovery import Recovery


def _zone_file(name: str, count: int) -> str:
    lines = [f"$ORIGIN {name}", "$TTL 3600",
             f"@ IN SOA ns1.{name} hostmaster.{name} 2024010101 3600 600 86400 3600"]
    lines += [f"h{i} IN A 10.0.{i >> 8 & 255}.{i & 255}" for i in range(count)]
    return "\n".join(lines) + "\n"


async def _count(engine: object, table: sa.Table) -> int:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar())


def _spawn_api(db_url: str, port: int) -> subprocess.Popen[bytes]:
    """``dnsaas api`` in its own process group (the kill takes its zone-file workers along)."""
    env = {**os.environ, "DNSAAS_AUTH": "noauth", "DNSAAS_QUOTAS__ZONE_RECORDS": "-1",
           "DNSAAS_QUOTAS__ZONE_RECORDSETS": "-1"}
    return subprocess.Popen([sys.executable, "-m", "dnsaas.cli", "api", "--database", db_url,
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


async def test_import_of_a_killed_api_process_ends_in_error(db_url: str) -> None:
    port = free_port()
    proc = _spawn_api(db_url, port)
    try:
        await wait_until_serving(f"http://127.0.0.1:{port}", proc, 60)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.post("/v2/zones/tasks/imports", headers={**ALICE, **TEXT_DNS},
                                 data=_zone_file("killed.test.", 60_000).encode()) as r:
                task = await r.json()
                assert r.status == 202, task
            async with http.get(f"/v2/zones/tasks/imports/{task['id']}", headers=ALICE) as r:
                assert (await r.json())["status"] == "PENDING"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 30)
    settings = Settings(database_url=db_url, import_stale_after=0.2)
    engine = db.create_engine(db_url)
    try:
        service = Service(engine, settings)
        alice = Context("project-alice", roles=frozenset({"member"}))
        assert (await service.get_zone_import(alice, task["id"]))["status"] == "PENDING"
        await asyncio.sleep(0.3)
        done = await Recovery(service, settings, "w1").sweep()
        assert done.get("interrupted_imports") == 1, done
        ended = await service.get_zone_import(alice, task["id"])
        assert (ended["status"], ended["message"], ended["zone_id"]) == (
            "ERROR", STALE_MESSAGE, None)
        assert await _count(engine, t.zones) == 0 and await _count(engine, t.records) == 0
        assert await service.fail_stale_imports() == 0  # once only
    finally:
        await engine.dispose()


async def test_import_ended_meanwhile_creates_nothing(client: TestClient, service: Service,
                                                      admin: Context) -> None:
    """The sweep ends a task that is in fact still running (a very slow one): its zone is
    rolled back when the import tries to complete, and the task keeps the sweep's message."""
    await service.set_quotas(admin, "project-alice", {"zone_records": -1,
                                                      "zone_recordsets": -1})
    resp = await client.post("/v2/zones/tasks/imports", headers={**ALICE, **TEXT_DNS},
                             data=_zone_file("slow.test.", 5000).encode())
    task = await resp.json()
    assert resp.status == 202, task
    assert await service.fail_stale_imports() == 0  # it is fresh
    assert await service.fail_stale_imports(older_than=0) == 1
    await service.wait_background()
    resp = await client.get(f"/v2/zones/tasks/imports/{task['id']}", headers=ALICE)
    body = await resp.json()
    assert (body["status"], body["message"], body["zone_id"]) == ("ERROR", STALE_MESSAGE, None)
    assert await _count(service.engine, t.zones) == 0
    assert await _count(service.engine, t.recordsets) == 0


async def test_progress_refreshes_the_heartbeat(client: TestClient, service: Service,
                                                admin: Context) -> None:
    """Progress reports set updated_at (the sweep's heartbeat) while the task is PENDING."""
    await service.set_quotas(admin, "project-alice", {"zone_records": -1,
                                                      "zone_recordsets": -1})
    resp = await client.post("/v2/zones/tasks/imports", headers={**ALICE, **TEXT_DNS},
                             data=_zone_file("live.test.", 60_000).encode())
    task = await resp.json()
    beats = []
    for _ in range(600):
        resp = await client.get(f"/v2/zones/tasks/imports/{task['id']}", headers=ALICE)
        body = await resp.json()
        if body["status"] != "PENDING":
            break
        if body["progress"] > 0:
            beats.append(body["updated_at"])
        await asyncio.sleep(0.02)
    assert body["status"] == "COMPLETE", body
    assert beats and None not in beats and len(set(beats)) >= 2, beats
