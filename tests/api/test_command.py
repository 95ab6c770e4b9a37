"""``dnsaas api`` as a real process (one and two workers) on both engines: serves, stops on
SIGTERM with exit code 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import pytest

from dnsaas.testing.apiproc import wait_until_serving
from dnsaas.testing.ports import free_port


def spawn(db_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DNSAAS_AUTH": "noauth"}
    return subprocess.Popen([sys.executable, "-m", "dnsaas.cli", "api", "--database", db_url,
                             "--port", str(port), "--workers", str(workers)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("workers", [1, 2])
async def test_dnsaas_api_process(db_url: str, workers: int) -> None:
    port = free_port()
    proc = spawn(db_url, port, workers)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_until_serving(base, proc)
        async with aiohttp.ClientSession(base) as session:
            statuses = []
            for i in range(6):
                async with session.post("/v2/zones", json={"name": f"c{i}.com.",
                                                           "email": "h@c.com"}) as r:
                    statuses.append(r.status)
            assert statuses == [202] * 6
            async with session.get("/v2/zones") as r:
                assert (await r.json())["metadata"]["total_count"] == 6
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
    assert code == 0
