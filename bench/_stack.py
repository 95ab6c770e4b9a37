"""Shared benchmark plumbing: the dnsaas stack as separate processes (``dnsaas api``,
``worker``, ``mdns``) on a fresh PostgreSQL database, a real secondary (BIND 9, Knot,
PowerDNS) as the default pool's only target and nameserver,
HTTP waits, and per-process CPU meters from /proc. Used by :mod:`bench.propagation` and
:mod:`bench.import_zone`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from dnsaas.settings import DEFAULT_POOL_ID, Settings
from dnsaas.storage import bootstrap, db
from dnsaas.testing.databases import recreate_database
from dnsaas.testing.ports import free_port

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of ``pid``; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its live descendants (forked api workers)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _proc_stat(int(entry))) is not None:
            stats[int(entry)] = st
    total, family = 0.0, {pid}
    for _ in range(3):  # children, grandchildren
        family |= {p for p, (pp, _) in stats.items() if pp in family}
    for p in family:
        if p in stats:
            total += stats[p][1]
    return total


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class CpuMeter:
    """CPU seconds per named process between ``mark()`` calls."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.last = self._read()

    def _read(self) -> dict[str, float]:
        out = {name: tree_cpu(pid) for name, pid in self.pids.items()}
        out["bench"] = time.process_time()
        return out

    def mark(self) -> dict[str, float]:
        now = self._read()
        delta = {k: round(now[k] - self.last.get(k, 0.0), 2) for k in now}
        self.last = now
        return delta


def target(kind: str, peer: Any, mdns_port: int) -> dict[str, Any]:
    opts: dict[str, Any] = {"host": "127.0.0.1", "port": peer.port, "timeout": 10}
    if kind == "bind":
        opts.update(rndc_host="127.0.0.1", rndc_port=peer.rndc_port,
                    rndc_config_file=str(peer.rndc_conf))
        driver = "bind9"
    elif kind == "knot":
        opts.update(socket=str(peer.socket), template="secondary")
        driver = "knot"
    else:
        opts.update(api_endpoint=f"http://127.0.0.1:{peer.api_port}", api_token=peer.api_key)
        driver = "pdns"
    return {"type": driver, "masters": [{"host": "127.0.0.1", "port": mdns_port}],
            "options": opts}


async def make_database(prefix: str = "dnsaas_bench_prop") -> str:
    """A fresh, migrated PostgreSQL database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = await recreate_database(name)
    engine = db.create_engine(url)
    try:
        await bootstrap.prepare(engine, Settings(database_url=url), auto_migrate=True)
    finally:
        await engine.dispose()
    return url


class Stack:
    """api, worker and mdns as separate ``dnsaas`` processes."""

    def __init__(self, db_url: str, workdir: Path, api_workers: int = 1):
        self.db_url, self.dir = db_url, workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.api_port, self.mdns_port = free_port(), free_port()
        self.api_workers = api_workers

    def run(self, *args: str, name: str, level: str = "WARNING") -> None:
        env = {**os.environ, "DNSAAS_DATABASE_URL": self.db_url, "DNSAAS_AUTH": "noauth",
               "DNSAAS_QUOTAS__ZONES": "-1", "DNSAAS_QUOTAS__ZONE_RECORDSETS": "-1",
               "DNSAAS_QUOTAS__ZONE_RECORDS": "-1"}
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "dnsaas.cli", "--log-level", level, *args],
            stdout=log, stderr=subprocess.STDOUT, env=env)

    def start(self) -> None:
        self.run("mdns", "--port", str(self.mdns_port), name="mdns")
        # INFO: one "run ..." line per finished job with its phase timings (dnsaas.worker.runs)
        self.run("worker", "--concurrency", "64", name="worker", level="INFO")
        self.run("api", "--port", str(self.api_port), "--no-access-log",
                 "--workers", str(self.api_workers), name="api")

    def stop(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/v2"


async def wait_active(http: aiohttp.ClientSession, url: str, every: float,
                      limit: float = 30.0) -> float | None:
    deadline = time.monotonic() + limit
    while True:
        async with http.get(url) as r:
            body = await r.json()
        if body.get("status") == "ACTIVE":
            return time.monotonic()
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(every)


async def wait_http(url: str, log: Path) -> None:
    """Wait until ``url`` answers (any status below 500); the log's tail if it never does."""
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession(headers={"X-Auth-Project-ID": "bench"}) as http:
        while True:
            try:
                async with http.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""  # noqa: ASYNC240
                raise RuntimeError(f"{url} did not come up\n{tail}")
            await asyncio.sleep(0.05)

async def make_pool(kind: str, peer: Any, stack: Stack) -> None:
    """Point the default pool at ``peer`` (``dnsaas pool update`` with a pools.yaml)."""
    pools = [{"name": "default", "id": DEFAULT_POOL_ID, "attributes": {},
              "ns_records": [{"hostname": "ns1.bench.test.", "priority": 1}],
              "nameservers": [{"host": "127.0.0.1", "port": peer.port}],
              "targets": [target(kind, peer, stack.mdns_port)]}]
    pool_file = stack.dir / "pools.yaml"
    pool_file.write_text(yaml.safe_dump(pools))
    await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "dnsaas.cli", "pool", "update", "--database", stack.db_url,
        "--file", str(pool_file)], check=True, capture_output=True)
