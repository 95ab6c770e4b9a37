"""The OpenAPI document is generated from the router and the models: every route is in it, it
is valid OpenAPI 3.1 in shape, and /docs renders it with no external resources."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from api.helpers import SPECS


async def test_every_route_is_documented(client: TestClient) -> None:
    doc = await (await client.get("/openapi.json")).json()
    routes = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        assert path, route
        if path != "/":
            path = path.rstrip("/")
        routes.add((path, route.method.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented
    assert len(routes) >= 40


async def test_document_shape(client: TestClient) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"#/components/(\w+)/([\w-]+)"', await resp.text()))
    for section, name in refs:
        assert name in doc["components"][section], (section, name)
    ops = [op for item in doc["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    create = doc["paths"]["/v2/zones"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ZoneCreate"}
    assert schemas["ZoneCreate"]["required"] == ["name"]
    assert schemas["ZoneCreate"]["additionalProperties"] is False
    assert "Location" in create["responses"]["202"]["headers"]
    assert set(create["responses"]) >= {"202", "400", "401", "403", "409", "413", "415"}
    listing = doc["paths"]["/v2/zones"]["get"]
    sort = next(p for p in listing["parameters"] if p.get("name") == "sort_key")
    assert "serial" in sort["schema"]["enum"]
    assert doc["paths"]["/"]["get"]["security"] == []
    error = schemas["Error"]
    assert {"code", "type", "request_id"} <= set(error["required"])
    # Admin-only operations say so.
    assert "Admin only" in doc["paths"]["/v2/tlds"]["post"]["description"]
    assert len(client.app[SPECS]) == len(ops)


async def test_docs_page(client: TestClient) -> None:
    resp = await client.get("/docs", headers={"Accept": "text/html"})
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert "openapi.json" in html
    # Works offline: no external scripts, styles or fonts.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@import" not in html and "cdn" not in html.lower()


async def test_component_schemas_are_valid_json_schema(client: TestClient) -> None:
    from jsonschema import Draft202012Validator

    doc = await (await client.get("/openapi.json")).json()
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    # A real zone body validates against the documented schema (refs resolved via a registry).
    from referencing import Registry, Resource

    registry = Registry().with_resource("urn:doc", Resource.from_contents(
        {**doc, "$schema": "https://json-schema.org/draft/2020-12/schema"}))
    zone = await (await client.post("/v2/zones", json={"name": "d.com.", "email": "h@d.com"})
                  ).json()
    validator = Draft202012Validator({"$ref": "urn:doc#/components/schemas/Zone"},
                                     registry=registry)
    assert list(validator.iter_errors(zone)) == []
    bad = {**zone, "ttl": "x"}
    assert list(validator.iter_errors(bad))
