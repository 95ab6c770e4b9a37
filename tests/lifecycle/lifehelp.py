"""Helpers of the lifecycle tests: identities, error bodies, zone files, task polling."""

from __future__ import annotations

import os
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from dnsaas.service import Service

ADMIN = {"X-Auth-Project-ID": "admin-project", "X-Roles": "admin"}
ADMIN_ALL = {**ADMIN, "X-Auth-All-Projects": "true"}
ALICE = {"X-Auth-Project-ID": "project-alice", "X-Auth-User-ID": "alice", "X-Roles": "member"}
BOB = {"X-Auth-Project-ID": "project-bob", "X-Auth-User-ID": "bob", "X-Roles": "member"}
CAROL = {"X-Auth-Project-ID": "project-carol", "X-Auth-User-ID": "carol", "X-Roles": "member"}
READER = {"X-Auth-Project-ID": "project-alice", "X-Auth-User-ID": "rita", "X-Roles": "reader"}
TEXT_DNS = {"Content-Type": "text/dns"}


def need(condition: bool, what: str) -> None:
    """Skip when ``what`` is missing locally; fail in CI (DNSAAS_REQUIRE_PEERS=1)."""
    if not condition:
        if os.environ.get("DNSAAS_REQUIRE_PEERS") == "1":
            pytest.fail(f"{what} is required in CI but unavailable")
        pytest.skip(f"{what} unavailable")


async def error(resp: ClientResponse, status: int, type_: str) -> dict[str, Any]:
    """Assert Designate's error body; returns it."""
    body = await resp.json()
    assert resp.status == status, body
    assert body["code"] == status and body["type"] == type_, body
    assert body["request_id"] == resp.headers["x-openstack-request-id"]
    return body  # type: ignore[no-any-return]


async def make_zone(client: TestClient, name: str = "example.com.",
                    headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    resp = await client.post("/v2/zones", json={"name": name, "email": "admin@example.com",
                                                **extra}, headers=headers or ALICE)
    body = await resp.json()
    assert resp.status == 202, body
    return body  # type: ignore[no-any-return]


async def make_rs(client: TestClient, zone_id: str, name: str, rtype: str, records: list[str],
                  headers: dict[str, str] | None = None) -> ClientResponse:
    return await client.post(f"/v2/zones/{zone_id}/recordsets",
                             json={"name": name, "type": rtype, "records": records},
                             headers=headers or ALICE)


async def finished(client: TestClient, service: Service, path: str,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
    """GET a task after the background work is done."""
    await service.wait_background()
    resp = await client.get(path, headers=headers or ALICE)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["status"] != "PENDING", body
    return body  # type: ignore[no-any-return]


async def import_zone(client: TestClient, service: Service, text: str,
                      headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Import ``text`` (text/dns) and return the finished task."""
    resp = await client.post("/v2/zones/tasks/imports", data=text.encode(),
                             headers={**(headers or ALICE), **TEXT_DNS})
    body = await resp.json()
    assert resp.status == 202, body
    assert resp.headers["Location"] == body["links"]["self"]
    return await finished(client, service, f"/v2/zones/tasks/imports/{body['id']}", headers)
