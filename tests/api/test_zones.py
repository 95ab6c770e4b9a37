"""Zones over HTTP (designate-api.md §1.1, §0.4)."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from apihelp import ADMIN, ALICE, BOB, READER, error, make_zone, valid

from api import schemas as s


async def test_create_get_update_delete(client: TestClient) -> None:
    resp = await client.post("/v2/zones", json={"name": "example.com.",
                                                "email": "admin@example.com", "ttl": 600,
                                                "description": "mine"}, headers=ALICE)
    zone = valid(s.Zone, await resp.json())
    assert resp.status == 202
    assert zone["status"] == "PENDING" and zone["action"] == "CREATE"
    assert zone["project_id"] == "project-alice" and zone["ttl"] == 600
    assert zone["version"] == 1 and zone["updated_at"] is None
    href = str(client.make_url(f"/v2/zones/{zone['id']}"))
    assert resp.headers["Location"] == zone["links"]["self"] == href
    assert int(resp.headers["X-Dnsaas-Serial"]) == zone["serial"]

    got = await client.get(f"/v2/zones/{zone['id']}", headers=ALICE)
    assert got.status == 200
    assert valid(s.Zone, await got.json())["name"] == "example.com."

    patched = await client.patch(f"/v2/zones/{zone['id']}", json={"ttl": 300, "email":
                                                                  "h@example.com"},
                                 headers=ALICE)
    body = valid(s.Zone, await patched.json())
    assert patched.status == 202, body
    assert body["ttl"] == 300 and body["email"] == "h@example.com"
    assert body["serial"] > zone["serial"]
    assert int(patched.headers["X-Dnsaas-Serial"]) == body["serial"]
    assert body["version"] == 2 and body["updated_at"] is not None

    deleted = await client.delete(f"/v2/zones/{zone['id']}", headers=ALICE)
    body = valid(s.Zone, await deleted.json())
    assert deleted.status == 202
    assert body["action"] == "DELETE" and body["status"] == "PENDING"


async def test_nameservers(client: TestClient) -> None:
    zone = await make_zone(client)
    resp = await client.get(f"/v2/zones/{zone['id']}/nameservers", headers=ALICE)
    body = valid(s.NameserverList, await resp.json())
    assert body == {"nameservers": [{"hostname": "ns1.example.com.", "priority": 1}]}
    await error(await client.get(f"/v2/zones/{uuid.uuid4()}/nameservers", headers=ALICE), 404,
                "zone_not_found")


async def test_create_errors(client: TestClient) -> None:
    await make_zone(client)
    await error(await client.post("/v2/zones", json={"name": "example.com.",
                                                     "email": "a@example.com"}, headers=ALICE),
                409, "duplicate_zone")
    # Another tenant's zone: duplicate or illegal child/parent.
    await error(await client.post("/v2/zones", json={"name": "example.com.",
                                                     "email": "a@example.com"}, headers=BOB),
                409, "duplicate_zone")
    await error(await client.post("/v2/zones", json={"name": "sub.example.com.",
                                                     "email": "a@example.com"}, headers=BOB),
                403, "illegal_child")
    body = await error(await client.post("/v2/zones", json={"name": "no-dot",
                                                            "email": "a@example.com"},
                                         headers=ALICE), 400, "invalid_object")
    assert body["errors"]["errors"][0]["path"] == ["name"]
    body = await error(await client.post("/v2/zones", json={"name": "x.com."}, headers=ALICE),
                       400, "invalid_object")
    assert any(e["path"] == ["email"] for e in body["errors"]["errors"])
    await error(await client.post("/v2/zones", json={"name": "c.com.", "email": "a@c.com",
                                                     "type": "CATALOG"}, headers=ALICE),
                403, "forbidden")
    # Reader may not write.
    await error(await client.post("/v2/zones", json={"name": "r.com.", "email": "a@r.com"},
                                  headers=READER), 403, "forbidden")


async def test_schema_errors(client: TestClient) -> None:
    body = await error(await client.post("/v2/zones", json={"name": "a.com.", "email": "a@a.com",
                                                            "bogus": 1}, headers=ALICE),
                       400, "invalid_object")
    assert "Keys ['bogus'] are not valid for zone" in body["message"]
    assert body["errors"]["errors"][0]["path"] == ["bogus"]
    body = await error(await client.post("/v2/zones", json={"name": "a.com.", "email": "a@a.com",
                                                            "ttl": "300"}, headers=ALICE),
                       400, "invalid_object")
    entry = body["errors"]["errors"][0]
    assert entry["path"] == ["ttl"] and entry["validator"] == "type"
    body = await error(await client.post("/v2/zones", json={"name": 5, "email": "a@a.com",
                                                            "ttl": True}, headers=ALICE),
                       400, "invalid_object")
    assert {tuple(e["path"]) for e in body["errors"]["errors"]} == {("name",), ("ttl",)}
    await error(await client.post("/v2/zones", json={"name": "a.com.", "email": "a@a.com",
                                                     "ttl": -1}, headers=ALICE),
                400, "invalid_object")
    await error(await client.post("/v2/zones", json={"name": "a.com.", "email": "a@a.com",
                                                     "description": "x" * 161}, headers=ALICE),
                400, "invalid_object")
    # Read-only fields cannot be set on create.
    body = await error(await client.post("/v2/zones", json={"name": "a.com.", "email": "a@a.com",
                                                            "serial": 5}, headers=ALICE),
                       400, "invalid_object")
    assert body["errors"]["errors"][0]["validator"] == "readOnly"


async def test_patch_read_only_and_immutable(client: TestClient) -> None:
    zone = await make_zone(client)
    url = f"/v2/zones/{zone['id']}"
    # Echoing read-only and immutable values unchanged is ignored.
    same = {"name": "example.com.", "id": zone["id"], "project_id": zone["project_id"],
            "type": "PRIMARY", "description": "new"}
    resp = await client.patch(url, json=same, headers=ALICE)
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["description"] == "new"
    await error(await client.patch(url, json={"name": "other.com."}, headers=ALICE), 400,
                "invalid_object")
    await error(await client.patch(url, json={"serial": 1}, headers=ALICE), 400, "invalid_object")
    await error(await client.patch(url, json={"type": "SECONDARY"}, headers=ALICE), 400,
                "invalid_object")
    # Other projects see nothing; readers cannot write.
    await error(await client.patch(url, json={"ttl": 5}, headers=BOB), 404, "zone_not_found")
    await error(await client.patch(url, json={"ttl": 5}, headers=READER), 403, "forbidden")
    await error(await client.delete(url, headers=BOB), 404, "zone_not_found")


async def test_tenancy(client: TestClient) -> None:
    zone = await make_zone(client)
    await error(await client.get(f"/v2/zones/{zone['id']}", headers=BOB), 404, "zone_not_found")
    assert (await (await client.get("/v2/zones", headers=BOB)).json())["zones"] == []
    # A reader of the same project can read.
    assert (await client.get(f"/v2/zones/{zone['id']}", headers=READER)).status == 200
    # Admins see everything with all-projects (header or query), and act as others with sudo.
    listing = await (await client.get("/v2/zones", headers={**ADMIN, "X-Auth-All-Projects":
                                                            "true"})).json()
    assert [z["id"] for z in listing["zones"]] == [zone["id"]]
    listing = await (await client.get("/v2/zones?all_projects=True", headers=ADMIN)).json()
    assert listing["metadata"]["total_count"] == 1
    assert (await (await client.get("/v2/zones", headers=ADMIN)).json())["zones"] == []
    sudo = {**ADMIN, "X-Auth-Sudo-Project-ID": "project-alice"}
    assert (await client.get(f"/v2/zones/{zone['id']}", headers=sudo)).status == 200
    made = await make_zone(client, "sudo.org.", headers=sudo)
    assert made["project_id"] == "project-alice"


async def test_list_paging_sort_filters(client: TestClient) -> None:
    names = [f"z{i}.com." for i in range(5)]
    ids = [(await make_zone(client, n))["id"] for n in names]
    resp = await client.get("/v2/zones?limit=2", headers=ALICE)
    page = valid(s.ZoneList, await resp.json())
    assert [z["id"] for z in page["zones"]] == ids[:2]
    assert page["metadata"] == {"total_count": 5}
    assert page["links"]["self"].endswith("/v2/zones?limit=2")
    seen = [z["id"] for z in page["zones"]]
    while "next" in page["links"]:
        nxt = page["links"]["next"]
        page = await (await client.get(nxt[nxt.index("/v2"):], headers=ALICE)).json()
        seen += [z["id"] for z in page["zones"]]
    assert seen == ids
    # Exactly a full last page: no next link (dnsaas improves on Designate here).
    page = await (await client.get("/v2/zones?limit=5", headers=ALICE)).json()
    assert len(page["zones"]) == 5 and "next" not in page["links"]
    page = await (await client.get("/v2/zones?limit=max", headers=ALICE)).json()
    assert len(page["zones"]) == 5
    page = await (await client.get("/v2/zones?sort_key=name&sort_dir=desc", headers=ALICE)).json()
    assert [z["name"] for z in page["zones"]] == sorted(names, reverse=True)
    page = await (await client.get("/v2/zones?name=z3.com.", headers=ALICE)).json()
    assert [z["name"] for z in page["zones"]] == ["z3.com."]
    page = await (await client.get("/v2/zones?name=z*", headers=ALICE)).json()
    assert page["metadata"]["total_count"] == 5
    page = await (await client.get("/v2/zones?ttl=3600&status=PENDING", headers=ALICE)).json()
    assert page["metadata"]["total_count"] == 5
    page = await (await client.get(f"/v2/zones?marker={ids[3]}", headers=ALICE)).json()
    assert [z["id"] for z in page["zones"]] == ids[4:]


async def test_list_errors(client: TestClient) -> None:
    for query, kind in [("limit=0", "invalid_limit"), ("limit=-1", "invalid_limit"),
                        ("limit=abc", "invalid_limit"), ("limit=1001", "invalid_limit"),
                        ("sort_key=email", "invalid_sort_key"),
                        ("sort_dir=up", "invalid_sort_dir"),
                        ("marker=nope", "invalid_marker"),
                        (f"marker={uuid.uuid4()}", "marker_not_found"),
                        ("foo=bar", "bad_request"), ("name=a&name=b", "bad_request"),
                        ("ttl=abc", "bad_request")]:
        await error(await client.get(f"/v2/zones?{query}", headers=ALICE), 400, kind)
    body = await error(await client.get("/v2/zones?foo=1", headers=ALICE), 400, "bad_request")
    assert "Invalid filters" in body["message"]


async def test_paths(client: TestClient) -> None:
    zone = await make_zone(client)
    assert (await client.get(f"/v2/zones/{zone['id']}/", headers=ALICE)).status == 200
    assert (await client.get("/v2/zones/", headers=ALICE)).status == 200
    await error(await client.get("/v2/zones.json", headers=ALICE), 404, "not_found")
    await error(await client.get("/v2/zones/not-a-uuid", headers=ALICE), 400, "invalid_uuid")
    await error(await client.get(f"/v2/zones/{uuid.uuid4()}", headers=ALICE), 404,
                "zone_not_found")
    resp = await client.put(f"/v2/zones/{zone['id']}", json={}, headers=ALICE)
    await error(resp, 405, "method_not_allowed")
    assert "PATCH" in resp.headers["Allow"]
    # An upper-case UUID is the same id.
    assert (await client.get(f"/v2/zones/{zone['id'].upper()}", headers=ALICE)).status == 200


async def test_forced_pool(client: TestClient) -> None:
    """attributes.pool_id is admin-only and must name a pool."""
    missing = {"pool_id": str(uuid.uuid4())}
    body = await error(await client.post("/v2/zones", json={"name": "p.com.", "email": "h@p.com",
                                                            "attributes": missing},
                                         headers=ADMIN), 404, "no_valid_pool_found")
    assert body["message"] == "No valid pool found"
    await error(await client.post("/v2/zones", json={"name": "p.com.", "email": "h@p.com",
                                                     "attributes": missing}, headers=ALICE),
                403, "forbidden")
