"""Helpers of the API tests: identities, error-body checks, response-model checks, makers."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from pydantic import BaseModel

ADMIN = {"X-Auth-Project-ID": "admin-project", "X-Roles": "admin"}
ALICE = {"X-Auth-Project-ID": "project-alice", "X-Auth-User-ID": "alice", "X-Roles": "member"}
BOB = {"X-Auth-Project-ID": "project-bob", "X-Auth-User-ID": "bob", "X-Roles": "member"}
READER = {"X-Auth-Project-ID": "project-alice", "X-Auth-User-ID": "carol", "X-Roles": "reader"}


async def error(resp: ClientResponse, status: int, type_: str) -> dict[str, Any]:
    """Assert Designate's error body; returns it."""
    body = await resp.json()
    assert resp.status == status, body
    assert body["code"] == status
    assert body["type"] == type_, body
    assert body["request_id"] == resp.headers["x-openstack-request-id"]
    assert body["request_id"].startswith("req-")
    return body


def valid(model: type[BaseModel], body: Any) -> Any:
    """Check a response body against its (closed) response model; returns the body."""
    model.model_validate(body)
    return body


async def make_zone(client: TestClient, name: str = "example.com.",
                    headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    resp = await client.post("/v2/zones", json={"name": name, "email": "admin@example.com",
                                                **extra}, headers=headers or ALICE)
    body = await resp.json()
    assert resp.status == 202, body
    return body  # type: ignore[no-any-return]


async def make_rs(client: TestClient, zone: dict[str, Any], name: str, rtype: str,
                  records: list[str], headers: dict[str, str] | None = None,
                  **extra: Any) -> dict[str, Any]:
    resp = await client.post(f"/v2/zones/{zone['id']}/recordsets",
                             json={"name": name, "type": rtype, "records": records, **extra},
                             headers=headers or ALICE)
    body = await resp.json()
    assert resp.status == 202, body
    return body  # type: ignore[no-any-return]


def path_of(url: str) -> str:
    """The path and query of an absolute link (the test client wants relative URLs)."""
    from yarl import URL

    return URL(url).path_qs
