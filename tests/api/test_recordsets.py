"""Recordsets over HTTP (designate-api.md §1.2)."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from apihelp import ADMIN, ALICE, BOB, READER, error, make_rs, make_zone, path_of, valid

from api import schemas as s


async def test_crud_and_serial_header(client: TestClient) -> None:
    zone = await make_zone(client)
    base = f"/v2/zones/{zone['id']}/recordsets"
    resp = await client.post(base, json={"name": "www.example.com.", "type": "A",
                                         "records": ["192.0.2.1", "192.0.2.2"], "ttl": 300},
                             headers=ALICE)
    rs = valid(s.Recordset, await resp.json())
    assert resp.status == 202
    assert "_serial" not in rs
    serial1 = int(resp.headers["X-Dnsaas-Serial"])
    assert serial1 > zone["serial"]
    assert resp.headers["Location"] == rs["links"]["self"]
    assert rs["links"]["self"].endswith(f"{base}/{rs['id']}")
    assert rs["zone_name"] == "example.com." and rs["status"] == "PENDING"
    # The new serial is what the zone now shows.
    got_zone = await (await client.get(f"/v2/zones/{zone['id']}", headers=ALICE)).json()
    assert got_zone["serial"] == serial1

    got = await client.get(f"{base}/{rs['id']}", headers=ALICE)
    assert sorted(valid(s.Recordset, await got.json())["records"]) == ["192.0.2.1", "192.0.2.2"]

    put = await client.put(f"{base}/{rs['id']}", json={"records": ["192.0.2.3"],
                                                       "description": "d"}, headers=ALICE)
    body = valid(s.Recordset, await put.json())
    assert put.status == 202, body
    assert body["records"] == ["192.0.2.3"] and body["action"] == "UPDATE"
    serial2 = int(put.headers["X-Dnsaas-Serial"])
    assert serial2 > serial1

    deleted = await client.delete(f"{base}/{rs['id']}", headers=ALICE)
    body = valid(s.Recordset, await deleted.json())
    assert deleted.status == 202 and body["action"] == "DELETE"
    assert int(deleted.headers["X-Dnsaas-Serial"]) > serial2
    await error(await client.get(f"{base}/{rs['id']}", headers=ALICE), 404,
                "recordset_not_found")


async def test_put_echoing_the_object(client: TestClient) -> None:
    zone = await make_zone(client)
    rs = await make_rs(client, zone, "a.example.com.", "TXT", ['"hello"'])
    echoed = {k: v for k, v in rs.items()}
    echoed["records"] = ['"bye"']
    resp = await client.put(path_of(rs["links"]["self"]), json=echoed, headers=ALICE)
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["records"] == ['"bye"']
    for change in ({"name": "b.example.com."}, {"type": "SPF"}, {"zone_id": str(uuid.uuid4())},
                   {"bogus": 1}):
        await error(await client.put(path_of(rs["links"]["self"]), json=change, headers=ALICE), 400,
                    "invalid_object")


async def test_rules(client: TestClient) -> None:
    zone = await make_zone(client)
    base = f"/v2/zones/{zone['id']}/recordsets"
    await make_rs(client, zone, "www.example.com.", "A", ["192.0.2.1"])
    await error(await client.post(base, json={"name": "www.example.com.", "type": "A",
                                              "records": ["192.0.2.9"]}, headers=ALICE),
                409, "duplicate_recordset")
    await error(await client.post(base, json={"name": "www.example.com.", "type": "CNAME",
                                              "records": ["x.example.org."]}, headers=ALICE),
                400, "invalid_recordset_location")
    await error(await client.post(base, json={"name": "www.other.com.", "type": "A",
                                              "records": ["192.0.2.9"]}, headers=ALICE),
                400, "invalid_recordset_location")
    body = await error(await client.post(base, json={"name": "m.example.com.", "type": "A",
                                                     "records": ["192.0.2.1", "999.1.1.1"]},
                                         headers=ALICE), 400, "invalid_object")
    assert body["errors"]["errors"][0]["path"] == ["records", 1]
    await error(await client.post(base, json={"name": "m.example.com.", "type": "A",
                                              "records": "192.0.2.1"}, headers=ALICE),
                400, "invalid_object")
    await error(await client.post(base, json={"name": "m.example.com.", "type": "a",
                                              "records": ["192.0.2.1"]}, headers=ALICE),
                400, "invalid_object")
    await error(await client.post(base, json={"name": "m.example.com.", "type": "A"},
                                  headers=ALICE), 400, "invalid_object")
    # Managed SOA and apex NS.
    listing = await (await client.get(base, headers=ALICE)).json()
    soa = next(r for r in listing["recordsets"] if r["type"] == "SOA")
    ns = next(r for r in listing["recordsets"] if r["type"] == "NS")
    await error(await client.delete(f"{base}/{soa['id']}", headers=ALICE), 400, "bad_request")
    await error(await client.put(f"{base}/{ns['id']}", json={"records": ["ns9.example.net."]},
                                 headers=ALICE), 400, "bad_request")
    await error(await client.post(base, json={"name": "example.com.", "type": "SOA",
                                              "records": ["a. b. 1 2 3 4 5"]}, headers=ALICE),
                400, "bad_request")
    # edit-managed is for admins: a member gets a bare 403, an admin may change the apex NS.
    resp = await client.put(f"{base}/{ns['id']}", json={"records": ["ns9.example.net."]},
                            headers={**ALICE, "X-Designate-Edit-Managed-Records": "true"})
    assert resp.status == 403 and await resp.read() == b""
    resp = await client.put(f"{base}/{ns['id']}?edit_managed_records=true",
                            json={"records": ["ns9.example.net."]},
                            headers={**ADMIN, "X-Auth-Sudo-Project-ID": "project-alice"})
    assert resp.status == 202, await resp.text()
    # Other projects and readers.
    await error(await client.post(base, json={"name": "b.example.com.", "type": "A",
                                              "records": ["192.0.2.1"]}, headers=BOB),
                404, "zone_not_found")
    await error(await client.post(base, json={"name": "b.example.com.", "type": "A",
                                              "records": ["192.0.2.1"]}, headers=READER),
                403, "forbidden")
    await error(await client.get(f"/v2/zones/{uuid.uuid4()}/recordsets", headers=ALICE), 404,
                "zone_not_found")
    await error(await client.get(f"{base}/not-a-uuid", headers=ALICE), 400, "invalid_uuid")


async def test_recordset_in_other_zone_is_404(client: TestClient) -> None:
    a = await make_zone(client, "a.com.")
    b = await make_zone(client, "b.com.")
    rs = await make_rs(client, a, "www.a.com.", "A", ["192.0.2.1"])
    await error(await client.get(f"/v2/zones/{b['id']}/recordsets/{rs['id']}", headers=ALICE),
                404, "recordset_not_found")


async def test_quota(client: TestClient) -> None:
    resp = await client.patch("/v2/quotas/project-alice", json={"recordset_records": 2},
                              headers={**ADMIN, "X-Auth-All-Projects": "true"})
    assert resp.status == 200, await resp.text()
    zone = await make_zone(client)
    await error(await client.post(f"/v2/zones/{zone['id']}/recordsets",
                                  json={"name": "q.example.com.", "type": "A",
                                        "records": ["192.0.2.1", "192.0.2.2", "192.0.2.3"]},
                                  headers=ALICE), 413, "over_quota")


async def test_lists(client: TestClient) -> None:
    zone = await make_zone(client)
    other = await make_zone(client, "other.org.")
    for i in range(3):
        await make_rs(client, zone, f"h{i}.example.com.", "A", [f"192.0.2.{i + 1}"])
    await make_rs(client, other, "x.other.org.", "TXT", ['"v=1"'])
    base = f"/v2/zones/{zone['id']}/recordsets"
    page = valid(s.RecordsetList, await (await client.get(base, headers=ALICE)).json())
    assert page["metadata"]["total_count"] == 5  # SOA + NS + 3
    page = await (await client.get(f"{base}?type=A&sort_key=name&sort_dir=desc&limit=2",
                                   headers=ALICE)).json()
    assert [r["name"] for r in page["recordsets"]] == ["h2.example.com.", "h1.example.com."]
    assert page["metadata"] == {"total_count": 3} and "next" in page["links"]
    page = await (await client.get(f"{base}?data=192.0.2.3", headers=ALICE)).json()
    assert [r["name"] for r in page["recordsets"]] == ["h2.example.com."]
    page = await (await client.get(f"{base}?name=h*", headers={**ALICE,
                                   "OpenStack-DNS-Hide-Counts": "true"})).json()
    assert page["metadata"] == {} and len(page["recordsets"]) == 3
    await error(await client.get(f"{base}?zone_id={other['id']}", headers=ALICE), 400,
                "bad_request")
    await error(await client.get(f"{base}?sort_key=bogus", headers=ALICE), 400,
                "invalid_sort_key")
    # Across zones.
    page = valid(s.RecordsetList, await (await client.get("/v2/recordsets?type=TXT",
                                                          headers=ALICE)).json())
    assert [r["zone_id"] for r in page["recordsets"]] == [other["id"]]
    page = await (await client.get(f"/v2/recordsets?zone_id={zone['id']}", headers=ALICE)).json()
    assert page["metadata"]["total_count"] == 5
    assert (await (await client.get("/v2/recordsets", headers=BOB)).json())["recordsets"] == []
    await error(await client.get("/v2/recordsets?sort_key=records", headers=ALICE), 400,
                "invalid_sort_key")


async def test_redirect(client: TestClient) -> None:
    zone = await make_zone(client)
    rs = await make_rs(client, zone, "www.example.com.", "A", ["192.0.2.1"])
    resp = await client.get(f"/v2/recordsets/{rs['id']}", headers=ALICE, allow_redirects=False)
    assert resp.status == 301
    assert resp.headers["Location"] == rs["links"]["self"]
    followed = await client.get(f"/v2/recordsets/{rs['id']}", headers=ALICE)
    assert followed.status == 200 and (await followed.json())["id"] == rs["id"]
    await error(await client.get(f"/v2/recordsets/{rs['id']}", headers=BOB,
                                 allow_redirects=False), 404, "recordset_not_found")
    await error(await client.get("/v2/recordsets/xyz", headers=ALICE), 400, "invalid_uuid")


async def test_every_whitelisted_sort_key(client: TestClient) -> None:
    """Each documented sort key works in both directions, with a marker, on every list."""
    from dnsaas.service.recordsets import ALL_RECORDSETS_SORT_KEYS, RECORDSET_SORT_KEYS
    from dnsaas.service.zones import ZONE_SORT_KEYS

    zone = await make_zone(client)
    await make_zone(client, "second.org.")
    for i in range(3):
        await make_rs(client, zone, f"s{i}.example.com.", "A", [f"192.0.2.{i + 1}"], ttl=60 + i)
    lists = [("/v2/zones", ZONE_SORT_KEYS, "zones"),
             (f"/v2/zones/{zone['id']}/recordsets", RECORDSET_SORT_KEYS, "recordsets"),
             ("/v2/recordsets", ALL_RECORDSETS_SORT_KEYS, "recordsets")]
    for path, keys, collection in lists:
        for key in sorted(keys):
            for direction in ("asc", "desc"):
                url = f"{path}?sort_key={key}&sort_dir={direction}&limit=2"
                for headers in (ALICE, {**ADMIN, "X-Auth-All-Projects": "true"}):
                    resp = await client.get(url, headers=headers)
                    page = await resp.json()
                    assert resp.status == 200, (url, page)
                    if "next" in page["links"]:
                        nxt = await client.get(path_of(page["links"]["next"]), headers=headers)
                        assert nxt.status == 200, (url, await nxt.text())
                        ids = {x["id"] for x in (await nxt.json())[collection]}
                        assert not ids & {x["id"] for x in page[collection]}
