"""Separate ``dnsaas worker`` and ``dnsaas mdns`` processes on one PostgreSQL with a real BIND:
two workers and two mdns processes propagate every change exactly once; a worker killed with
SIGKILL mid-propagation loses its leases and a new worker finishes, losing nothing."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode
import pytest
import sqlalchemy as sa
from propagation_kit import apply_yaml, eventually, pool_yaml

from dnsaas.context import Context
from dnsaas.service import ListParams, Service
from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.storage import tables as t
from dnsaas.testing.peers import BindServer
from dnsaas.testing.ports import free_port
from dnsaas.testing.require import need

pytestmark = [pytest.mark.peers, pytest.mark.postgres]
RUN = re.compile(r"run zone=(\S+) name=(\S+) serial=(\d+) action=(\S+) attempt=\d+ result=(\S+)")


class Procs:
    """Child processes of one test, with their output in files."""

    def __init__(self, tmp: Path, db_url: str):
        self.tmp, self.db_url = tmp, db_url
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        full_env = {**os.environ, "DNSAAS_DATABASE_URL": self.db_url, **env}
        out = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "dnsaas.cli", "--log-level", "INFO",
                                 *args], stdout=out, stderr=subprocess.STDOUT, env=full_env)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@pytest.fixture
def procs(tmp_path: Path, pg_url: str) -> Iterator[Procs]:
    p = Procs(tmp_path, pg_url)
    try:
        yield p
    finally:
        p.stop_all()


@pytest.fixture
async def pg_service(pg_url: str) -> AsyncIterator[Service]:
    engine = db.create_engine(pg_url)
    try:
        yield Service(engine, Settings(database_url=pg_url, auth="noauth"))
    finally:
        await engine.dispose()


async def _answers(port: int, name: str, rdtype: str) -> tuple[int, list[str]]:
    q = dns.message.make_query(name, rdtype)
    r = await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=2)
    return r.rcode(), sorted(rd.to_text() for rrset in r.answer for rd in rrset)


async def _wait_mdns(port: int) -> None:
    async def up() -> bool:
        try:
            await _answers(port, "nothing.invalid.", "SOA")
            return True
        except Exception:  # noqa: BLE001
            return False
    await eventually(up, 20, f"mdns on {port}")


async def _check_peer_matches_db(service: Service, ctx: Context, bind: BindServer) -> int:
    """Every recordset in the API is answered identically by BIND; returns how many."""
    checked = 0
    for zone in (await service.list_zones(ctx, ListParams(limit=1000))).items:
        rrsets = (await service.list_recordsets(ctx, zone["id"], ListParams(limit=1000))).items
        for rs in rrsets:
            if rs["type"] in ("SOA", "NS"):
                continue
            rcode, got = await _answers(bind.port, rs["name"], rs["type"])
            assert rcode == dns.rcode.NOERROR and got == sorted(rs["records"]), (rs, got)
            checked += 1
        rcode, soa = await _answers(bind.port, zone["name"], "SOA")
        assert rcode == dns.rcode.NOERROR and int(soa[0].split()[2]) == zone["serial"]
    return checked


async def _all_active(service: Service, ctx: Context) -> bool:
    zones = (await service.list_zones(ctx, ListParams(limit=1000))).items
    if not zones or any(z["status"] != "ACTIVE" for z in zones):
        return False
    for z in zones:
        rs = (await service.list_recordsets(ctx, z["id"], ListParams(limit=1000))).items
        if any(r["status"] != "ACTIVE" for r in rs):
            return False
    return True


async def _changes(service: Service, zones: int, per_zone: int) -> None:
    async def one_zone(i: int) -> None:
        ctx = Context(project_id=f"proj{i}", roles=frozenset({"member"}))
        zone = await service.create_zone(ctx, {"name": f"z{i}.procs.test.",
                                               "email": "a@example.com"})
        for j in range(per_zone):
            await service.create_recordset(ctx, zone["id"], {
                "name": f"r{j}.z{i}.procs.test.", "type": "A", "records": [f"192.0.2.{j + 1}"]})
    await asyncio.gather(*(one_zone(i) for i in range(zones)))


ALL = Context.internal()


async def test_two_workers_two_mdns_exactly_once(procs: Procs, pg_service: Service,
                                                 tmp_path: Path) -> None:
    need(BindServer.available(), "BIND binaries")
    service = pg_service
    ports = [free_port(), free_port()]
    with BindServer(primary=("127.0.0.1", ports[0])) as bind:
        await apply_yaml(service, pool_yaml([bind], ports))
        env = {"DNSAAS_WORKER_POLL_TIMEOUT": "5", "DNSAAS_RECOVERY_INTERVAL": "1"}
        for i, port in enumerate(ports):
            procs.start(f"mdns{i}", "mdns", "--port", str(port))
        for i in range(2):
            procs.start(f"worker{i}", "worker", "--concurrency", "8", "--worker-id", f"w{i}",
                        **env)
        for port in ports:
            await _wait_mdns(port)
        await _changes(service, zones=10, per_zone=8)
        await eventually(lambda: _all_active(service, ALL), 60, "all ACTIVE")
        assert await _check_peer_matches_db(service, ALL, bind) == 80
        procs.stop("worker0")
        procs.stop("worker1")
        runs = [m.groups() for i in range(2) for m in RUN.finditer(procs.log(f"worker{i}"))]
    ok = [(zone, serial, action) for zone, _n, serial, action, result in runs if result == "ok"]
    assert ok, "no runs logged"
    assert len(ok) == len(set(ok)), "a change was propagated twice"
    assert len(ok) <= 10 * 9  # coalescing: never more runs than changes
    async with service.engine.connect() as conn:
        states = (await conn.execute(sa.select(t.jobs.c.state))).scalars().all()
    assert set(states) == {"done"}


async def test_kill_9_mid_propagation_loses_nothing(procs: Procs, pg_service: Service) -> None:
    need(BindServer.available(), "BIND binaries")
    service = pg_service
    port = free_port()
    slow = (f"    - type: fake\n      masters: [{{host: 127.0.0.1, port: {port}}}]\n"
            "      options: {delay: 1.5}\n")
    with BindServer(primary=("127.0.0.1", port)) as bind:
        await apply_yaml(service, pool_yaml([bind], port, extra_targets=slow))
        env = {"DNSAAS_WORKER_LEASE_SECONDS": "1.5", "DNSAAS_WORKER_POLL_TIMEOUT": "5",
               "DNSAAS_RECOVERY_INTERVAL": "1"}
        procs.start("mdns", "mdns", "--port", str(port))
        await _wait_mdns(port)
        victim = procs.start("victim", "worker", "--concurrency", "32", "--worker-id", "victim",
                             **env)
        await _changes(service, zones=8, per_zone=5)

        async def victim_busy() -> bool:
            async with service.engine.connect() as conn:
                n = (await conn.execute(sa.select(sa.func.count()).select_from(t.jobs).where(
                    t.jobs.c.state == "running", t.jobs.c.leased_by == "victim"))).scalar_one()
            return n >= 4
        await eventually(victim_busy, 20, "victim holds leases")
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        async with service.engine.connect() as conn:
            orphaned = (await conn.execute(sa.select(sa.func.count()).select_from(t.jobs).where(
                t.jobs.c.leased_by == "victim"))).scalar_one()
        assert orphaned >= 1  # killed mid-propagation, holding leases
        procs.start("heir", "worker", "--concurrency", "32", "--worker-id", "heir", **env)
        await eventually(lambda: _all_active(service, ALL), 60, "all ACTIVE after the kill")
        assert await _check_peer_matches_db(service, ALL, bind) == 40
        procs.stop("heir")
    assert "result=ok" in procs.log("heir")
