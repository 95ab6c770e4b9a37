"""Behaviour shared by every endpoint (designate-api.md §0.1, §0.2): content types, body limit,
request ids, error bodies, 500 and 503."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from apihelp import ALICE, error, make_zone, valid

from api import schemas as s
from api.app import create_app
from dnsaas.service import Service
from dnsaas.settings import Settings
from dnsaas.storage import db
from dnsaas.testing.ports import free_port


async def test_content_types(client: TestClient) -> None:
    for headers, data in [({"Content-Type": "text/plain"}, b'{"name": "a.com."}'),
                          ({}, b'{"name": "a.com."}'),
                          ({"Content-Type": "application/json-patch+json"}, b"[]"),
                          ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=b")]:
        await error(await client.post("/v2/zones", data=data, headers={**ALICE, **headers}), 415,
                    "unsupported_content_type")
    json_ct = {**ALICE, "Content-Type": "application/json"}
    await error(await client.post("/v2/zones", data=b"", headers=json_ct), 400,
                "empty_request_body")
    await error(await client.post("/v2/zones", data=b"  \n", headers=json_ct), 400,
                "empty_request_body")
    for bad in (b"{bad", b'{"a": }', b"\xff\xfe", b"[" * 50000):
        await error(await client.post("/v2/zones", data=bad, headers=json_ct), 400,
                    "invalid_json")
    for not_object in (b"[1]", b'"zone"', b"null", b"3"):
        await error(await client.post("/v2/zones", data=not_object, headers=json_ct), 400,
                    "invalid_object")
    # charset parameters are fine.
    resp = await client.post("/v2/zones", data=b'{"name": "a.com.", "email": "h@a.com"}',
                             headers={**ALICE, "Content-Type": "application/json; charset=utf-8"})
    assert resp.status == 202, await resp.text()


async def test_accept(client: TestClient) -> None:
    for accept in ("test/goat", "text/html", "application/json;q=0, text/plain"):
        await error(await client.get("/v2/zones", headers={**ALICE, "Accept": accept}), 406,
                    "unsupported_accept")
    for accept in ("application/json", "*/*", "application/*", "text/html, */*;q=0.1", ""):
        resp = await client.get("/v2/zones", headers={**ALICE, "Accept": accept})
        assert resp.status == 200, accept


async def test_body_limit(settings: Settings, service: Service) -> None:
    small = settings.model_copy(update={"max_request_body": 1000})
    async with TestClient(TestServer(create_app(small, service), host="127.0.0.1")) as client:
        big = b'{"name": "a.com.", "description": "' + b"x" * 2000 + b'"}'
        await error(await client.post("/v2/zones", data=big, headers={
            **ALICE, "Content-Type": "application/json"}), 413, "request_too_large")

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(big), 100):
                yield big[i:i + 100]
        await error(await client.post("/v2/zones", data=chunks(), headers={
            **ALICE, "Content-Type": "application/json"}), 413, "request_too_large")
        ok = await client.post("/v2/zones", json={"name": "a.com.", "email": "h@a.com"},
                               headers=ALICE)
        assert ok.status == 202


async def test_request_id_everywhere(client: TestClient) -> None:
    zone = await make_zone(client)
    seen = set()
    for method, path, headers in [("GET", "/", {}), ("GET", f"/v2/zones/{zone['id']}", ALICE),
                                  ("GET", "/nope", ALICE), ("DELETE", "/v2/zones", ALICE),
                                  ("GET", "/v2/zones", {**ALICE, "X-Auth-All-Projects": "1"})]:
        resp = await client.request(method, path, headers=headers)
        rid = resp.headers["x-openstack-request-id"]
        assert rid.startswith("req-") and len(rid) == 40
        parsed = uuid.UUID(rid[4:])
        assert str(parsed) == rid[4:] and parsed.version == 4 and parsed.variant == uuid.RFC_4122
        seen.add(rid)
    assert len(seen) == 5


async def test_unexpected_error_is_500_unknown(client: TestClient, service: Service,
                                               monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("boom")
    monkeypatch.setattr(service, "list_zones", broken)
    with caplog.at_level(logging.ERROR, logger="api.middlewares"):
        body = await error(await client.get("/v2/zones", headers=ALICE), 500, "unknown")
    assert "boom" not in body["message"]
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_database_unavailable_is_503(kind: str, tmp_path: object) -> None:
    url = (f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db" if kind == "sqlite" else
           f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    settings = Settings(database_url=url, auth="noauth")
    engine = db.create_engine(url)
    try:
        app = create_app(settings, Service(engine, settings))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            async with asyncio.timeout(30):
                for method, path, body in [("GET", "/v2/zones", None),
                                           ("POST", "/v2/zones", {"name": "a.com.",
                                                                  "email": "h@a.com"}),
                                           ("GET", "/healthcheck", None)]:
                    resp = await client.request(method, path, json=body, headers=ALICE)
                    if path == "/healthcheck":
                        assert resp.status == 503
                        continue
                    await error(resp, 503, "service_unavailable")
                    assert resp.headers["Retry-After"] == "5"
    finally:
        await engine.dispose()


async def test_versions_and_health(client: TestClient) -> None:
    resp = await client.get("/")
    body = valid(s.Versions, await resp.json())
    assert [v["id"] for v in body["versions"]] == ["v2", "v2.0", "v2.1", "v2.2", "v2.3", "v2.4"]
    assert body["versions"][-1]["status"] == "CURRENT"
    assert body["versions"][0]["links"][0] == {"href": str(client.make_url("/v2")),
                                               "rel": "self"}
    doc = valid(s.VersionDocument, await (await client.get("/v2/")).json())
    assert doc["version"]["id"] == "v2.4"
    resp = await client.get("/healthcheck")
    assert resp.status == 200 and await resp.text() == "OK"
