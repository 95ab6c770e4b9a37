"""DNSAAS_AUTH=token and noauth, RBAC and the privileged headers (designate-api.md §0.3, §0.6)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from apihelp import ALICE, error

from api.app import create_app
from api.auth import TokenAuth
from api.middlewares import AUTHENTICATOR
from dnsaas.service import Service
from dnsaas.settings import Settings
from dnsaas.storage import tables as t


@pytest.fixture
async def token_client(settings: Settings, service: Service) -> AsyncIterator[TestClient]:
    app = create_app(settings.model_copy(update={"auth": "token"}), service)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def test_token_auth(token_client: TestClient, service: Service) -> None:
    token, row = await service.create_token("project-alice", ["member"], user_id="alice")
    auth = {"X-Auth-Token": token}
    resp = await token_client.post("/v2/zones", json={"name": "a.com.", "email": "h@a.com"},
                                   headers=auth)
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["project_id"] == "project-alice"
    # noauth headers are ignored in token mode.
    resp = await token_client.get("/v2/zones", headers={**auth, "X-Auth-Project-ID": "other"})
    assert (await resp.json())["metadata"]["total_count"] == 1
    # Stored as a SHA-256 hash, never in plaintext.
    async with service.engine.connect() as conn:
        stored = (await conn.execute(sa.select(t.api_tokens.c.token_hash, t.api_tokens.c
                                               .last_used_at))).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert stored.last_used_at is not None


async def test_missing_and_bad_tokens(token_client: TestClient, service: Service) -> None:
    await error(await token_client.get("/v2/zones"), 401, "unauthorized")
    await error(await token_client.get("/v2/zones", headers={"X-Auth-Token": "notused"}), 401,
                "unauthorized")
    await error(await token_client.get("/v2/zones/not-a-uuid"), 401, "unauthorized")
    token, _ = await service.create_token("p", ["member"])
    await error(await token_client.get("/v2/zones", headers={"X-Auth-Token": token + "x"}), 401,
                "unauthorized")
    # Public documents need no token.
    for path in ("/", "/v2", "/openapi.json", "/docs", "/healthcheck"):
        assert (await token_client.get(path)).status == 200, path


async def test_expired_and_revoked(token_client: TestClient, service: Service) -> None:
    token, row = await service.create_token("p", ["member"], expires_in=3600)
    auth = {"X-Auth-Token": token}
    assert (await token_client.get("/v2/zones", headers=auth)).status == 200
    authn = token_client.app[AUTHENTICATOR]
    assert isinstance(authn, TokenAuth)
    authn.cache_seconds = 0  # no cache: every request looks the token up
    async with service.engine.begin() as conn:
        await conn.execute(t.api_tokens.update().values(
            expires_at=sa.func.current_timestamp() - sa.text("INTERVAL '1 hour'")
            if conn.dialect.name == "postgresql" else sa.text("datetime('now', '-1 hour')")))
    await error(await token_client.get("/v2/zones", headers=auth), 401, "unauthorized")
    token2, row2 = await service.create_token("p", ["member"])
    assert (await token_client.get("/v2/zones", headers={"X-Auth-Token": token2})).status == 200
    await service.revoke_token(row2["id"])
    await error(await token_client.get("/v2/zones", headers={"X-Auth-Token": token2}), 401,
                "unauthorized")
    assert [r["id"] for r in await service.list_tokens()] == [row["id"]]


async def test_token_roles(token_client: TestClient, service: Service) -> None:
    reader, _ = await service.create_token("p", ["reader"])
    admin, _ = await service.create_token("ops", ["admin"])
    member, _ = await service.create_token("p", ["member"])
    await error(await token_client.post("/v2/zones", json={"name": "a.com.", "email": "h@a.com"},
                                        headers={"X-Auth-Token": reader}), 403, "forbidden")
    assert (await token_client.get("/v2/zones", headers={"X-Auth-Token": reader})).status == 200
    await error(await token_client.get("/v2/tlds", headers={"X-Auth-Token": member}), 403,
                "forbidden")
    assert (await token_client.get("/v2/tlds", headers={"X-Auth-Token": admin})).status == 200
    resp = await token_client.get("/v2/zones", headers={"X-Auth-Token": member,
                                                        "X-Auth-All-Projects": "true"})
    assert resp.status == 403 and await resp.read() == b""
    resp = await token_client.get("/v2/zones", headers={"X-Auth-Token": admin,
                                                        "X-Auth-All-Projects": "true"})
    assert resp.status == 200


@pytest.mark.parametrize("privileged", [
    {"X-Auth-All-Projects": "true"}, {"X-Auth-Sudo-Project-ID": "project-bob"},
    {"X-Auth-Sudo-Tenant-ID": "project-bob"}, {"X-Designate-Edit-Managed-Records": "yes"},
    {"X-Designate-Hard-Delete": "1"}, "all_projects=true", "all_tenants=1",
    "edit_managed_records=on"])
async def test_privileged_headers_bare_403(client: TestClient, privileged: object) -> None:
    if isinstance(privileged, dict):
        resp = await client.get("/v2/zones", headers={**ALICE, **privileged})
    else:
        resp = await client.get(f"/v2/zones?{privileged}", headers=ALICE)
    assert resp.status == 403
    assert await resp.read() == b""
    assert resp.headers["x-openstack-request-id"].startswith("req-")


async def test_false_privileged_values_are_harmless(client: TestClient) -> None:
    resp = await client.get("/v2/zones?all_projects=false",
                            headers={**ALICE, "X-Auth-All-Projects": "False",
                                     "X-Designate-Delete-Shares": "true"})
    assert resp.status == 200


async def test_noauth_defaults(client: TestClient) -> None:
    resp = await client.post("/v2/zones", json={"name": "a.com.", "email": "h@a.com"})
    body = await resp.json()
    assert resp.status == 202 and body["project_id"] == "noauth-project"
    # Default role is admin: admin-only resources work without any header.
    assert (await client.get("/v2/tlds")).status == 200
    # Roles are a comma list; an identity without a known role is refused.
    assert (await client.get("/v2/tlds", headers={"X-Roles": "reader, admin"})).status == 200
    await error(await client.get("/v2/zones", headers={"X-Roles": "observer"}), 403, "forbidden")
