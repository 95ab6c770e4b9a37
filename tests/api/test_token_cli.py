"""``dnsaas token create|list|revoke`` against real databases, and the token it prints."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from dnsaas.service import Service
from dnsaas.settings import Settings


async def dnsaas(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``dnsaas`` command in a subprocess (off the event loop)."""
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "dnsaas.cli", *args],
                                   capture_output=True, text=True, timeout=60)


async def test_token_commands(db_url: str, settings: Settings, service: Service) -> None:
    made = await dnsaas("token", "create", "--database", db_url, "--project", "proj-1",
                        "--roles", "member,admin", "--user", "u1", "--expires-in", "3600")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("dnsaas_") and len(token) > 40

    listed = await dnsaas("token", "list", "--database", db_url, "--json")
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and token not in listed.stdout
    assert rows[0]["roles"] == ["admin", "member"] and rows[0]["expires_at"] is not None

    app = create_app(settings.model_copy(update={"auth": "token"}), service)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.post("/v2/zones", json={"name": "a.com.", "email": "h@a.com"},
                                 headers={"X-Auth-Token": token})
        assert resp.status == 202
        assert (await resp.json())["project_id"] == "proj-1"

    revoked = await dnsaas("token", "revoke", "--database", db_url, rows[0]["id"])
    assert revoked.returncode == 0, revoked.stderr
    assert await service.lookup_token(token) is None
    again = await dnsaas("token", "revoke", "--database", db_url, rows[0]["id"])
    assert again.returncode == 1 and "not found" in again.stderr

    bad = await dnsaas("token", "create", "--database", db_url, "--project", "p", "--roles",
                       "root")
    assert bad.returncode == 1 and "roles" in bad.stderr
