"""Real OpenStack clients against the API on a real port (designate-api.md §5): they use
requests, so each client call runs in a worker thread while the event loop serves it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from api.app import create_app
from dnsaas.service import Service
from dnsaas.settings import Settings

# openstacksdk warns about its own deprecations on every call.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]


@pytest.fixture
async def server(settings: Settings, service: Service) -> AsyncIterator[tuple[str, str]]:
    """(service root URL, member token) of the API in token mode."""
    app = create_app(settings.model_copy(update={"auth": "token"}), service)
    token, _ = await service.create_token("client-project", ["member"], user_id="u")
    async with TestServer(app, host="127.0.0.1") as srv:
        yield str(srv.make_url("")).rstrip("/"), token


def designate_flow(root: str, token: str) -> dict[str, Any]:
    from designateclient import exceptions
    from designateclient.v2 import client
    from keystoneauth1 import session
    from keystoneauth1.token_endpoint import Token

    sess = session.Session(auth=Token(endpoint=f"{root}/v2", token=token))
    c = client.Client(session=sess)
    out: dict[str, Any] = {}
    zone = c.zones.create("client.example.", email="admin@client.example", ttl=600)
    out["created"] = zone
    out["listed"] = [z["name"] for z in c.zones.list()]
    out["by_name"] = c.zones.get("client.example.")["id"]
    try:
        c.zones.create("client.example.", email="admin@client.example")
    except exceptions.Conflict as exc:
        out["conflict"] = (exc.code, exc.type)
    try:
        c.zones.create("bad..name.", email="admin@client.example")
    except exceptions.BadRequest as exc:
        out["bad_request"] = (exc.code, exc.type, str(exc))
    out["updated"] = c.zones.update(zone["id"], {"description": "via designateclient"})
    rs = c.recordsets.create(zone["id"], "www", "A", ["192.0.2.10"], ttl=300)
    out["rs_created"] = rs
    out["rs_listed"] = sorted(r["type"] for r in c.recordsets.list(zone["id"]))
    out["rs_updated"] = c.recordsets.update(zone["id"], rs["id"], {"records": ["192.0.2.11"]})
    out["rs_got"] = c.recordsets.get(zone["id"], rs["id"])
    out["rs_deleted"] = c.recordsets.delete(zone["id"], rs["id"])
    try:
        c.recordsets.get(zone["id"], rs["id"])
    except exceptions.NotFound as exc:
        out["rs_not_found"] = exc.code
    out["limits"] = c.limits.get()
    out["deleted"] = c.zones.delete(zone["id"])
    try:
        client.Client(session=session.Session(auth=Token(endpoint=f"{root}/v2",
                                                         token="wrong"))).zones.list()
    except exceptions.Forbidden as exc:  # designateclient maps 401 to Forbidden
        out["unauthorized"] = exc.code
    return out


async def test_designateclient(server: tuple[str, str]) -> None:
    root, token = server
    out = await asyncio.to_thread(designate_flow, root, token)
    assert out["created"]["status"] == "PENDING" and out["created"]["ttl"] == 600
    assert out["listed"] == ["client.example."]
    assert out["by_name"] == out["created"]["id"]
    assert out["conflict"] == (409, "duplicate_zone")
    assert out["bad_request"][:2] == (400, "invalid_object")
    assert out["updated"]["description"] == "via designateclient"
    assert out["rs_created"]["name"] == "www.client.example."
    assert out["rs_listed"] == ["A", "NS", "SOA"]
    assert out["rs_updated"]["records"] == ["192.0.2.11"]
    assert out["rs_got"]["records"] == ["192.0.2.11"]
    assert out["rs_deleted"]["action"] == "DELETE"
    assert out["rs_not_found"] == 404
    assert out["limits"]["max_zones"] == 10
    assert out["deleted"]["action"] == "DELETE"
    assert out["unauthorized"] == 401


def sdk_flow(root: str, token: str, endpoint: str) -> dict[str, Any]:
    import openstack
    from keystoneauth1 import session
    from keystoneauth1.token_endpoint import Token

    conn = openstack.connection.Connection(
        session=session.Session(auth=Token(endpoint=endpoint, token=token)),
        dns_endpoint_override=endpoint)
    out: dict[str, Any] = {}
    zone = conn.dns.create_zone(name="sdk.example.", email="admin@sdk.example", ttl=900)
    out["created"] = (zone.name, zone.status, zone.ttl)
    for i in range(3):
        conn.dns.create_zone(name=f"z{i}.sdk.example.", email="admin@sdk.example")
    out["listed"] = sorted(z.name for z in conn.dns.zones())
    out["paged"] = sorted(z.name for z in conn.dns.zones(limit=2))
    out["found"] = conn.dns.find_zone("sdk.example.").id == zone.id
    rs = conn.dns.create_recordset(zone, name="txt.sdk.example.", type="TXT",
                                   records=['"hi"'])
    out["recordsets"] = sorted(r.type for r in conn.dns.recordsets(zone))
    out["rs"] = (rs.name, rs.records)
    conn.dns.update_zone(zone, description="sdk")
    out["described"] = conn.dns.get_zone(zone.id).description
    return out


@pytest.mark.parametrize("suffix", ["", "/v2"])
async def test_openstacksdk(server: tuple[str, str], suffix: str) -> None:
    root, token = server
    out = await asyncio.to_thread(sdk_flow, root, token, root + suffix)
    assert out["created"] == ("sdk.example.", "PENDING", 900)
    names = ["sdk.example.", "z0.sdk.example.", "z1.sdk.example.", "z2.sdk.example."]
    assert out["listed"] == names
    assert out["paged"] == names  # follows links.next, stops at total_count
    assert out["found"] is True
    assert out["recordsets"] == ["NS", "SOA", "TXT"]
    assert out["rs"] == ("txt.sdk.example.", ['"hi"'])
    assert out["described"] == "sdk"
