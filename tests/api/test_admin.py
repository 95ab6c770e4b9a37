"""Admin resources over HTTP: TLDs, blacklists, TSIG keys, pools, quotas, limits, service
statuses (designate-api.md §1.9–§1.15)."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from apihelp import ADMIN, ALICE, BOB, READER, error, make_zone, path_of, valid

from api import schemas as s
from dnsaas.service import Service
from dnsaas.settings import DEFAULT_POOL_ID

ALL = {**ADMIN, "X-Auth-All-Projects": "true"}


async def test_tlds(client: TestClient) -> None:
    resp = await client.post("/v2/tlds", json={"name": "com", "description": "commercial"},
                             headers=ADMIN)
    tld = valid(s.Tld, await resp.json())
    assert resp.status == 201 and resp.headers["Location"] == tld["links"]["self"]
    await error(await client.post("/v2/tlds", json={"name": "com"}, headers=ADMIN), 409,
                "duplicate_tld")
    await error(await client.post("/v2/tlds", json={"name": "bad_tld!"}, headers=ADMIN), 400,
                "invalid_object")
    await error(await client.post("/v2/tlds", json={"name": "org", "x": 1}, headers=ADMIN), 400,
                "invalid_object")
    await error(await client.post("/v2/tlds", json={"name": "org"}, headers=ALICE), 403,
                "forbidden")
    await error(await client.get("/v2/tlds", headers=ALICE), 403, "forbidden")
    # With a TLD registered, zones must end in one.
    await error(await client.post("/v2/zones", json={"name": "example.net.",
                                                     "email": "h@example.net"}, headers=ALICE),
                400, "invalid_object")
    await make_zone(client, "example.com.")
    url = f"/v2/tlds/{tld['id']}"
    resp = await client.patch(url, json={"description": "changed", "id": tld["id"]},
                              headers=ADMIN)
    assert resp.status == 200 and valid(s.Tld, await resp.json())["description"] == "changed"
    listing = valid(s.TldList, await (await client.get("/v2/tlds?name=com", headers=ADMIN)).json())
    assert [x["id"] for x in listing["tlds"]] == [tld["id"]]
    assert "metadata" not in listing
    await error(await client.get("/v2/tlds?pattern=x", headers=ADMIN), 400, "bad_request")
    assert (await client.delete(url, headers=ADMIN)).status == 204
    await error(await client.get(url, headers=ADMIN), 404, "tld_not_found")
    await error(await client.delete(url, headers=ADMIN), 404, "tld_not_found")
    await error(await client.get("/v2/tlds/abc", headers=ADMIN), 400, "invalid_uuid")


async def test_blacklists(client: TestClient) -> None:
    resp = await client.post("/v2/blacklists", json={"pattern": "^evil\\."}, headers=ADMIN)
    bl = valid(s.Blacklist, await resp.json())
    assert resp.status == 201 and resp.headers["Location"].endswith(f"/v2/blacklists/{bl['id']}")
    await error(await client.post("/v2/blacklists", json={"pattern": "^evil\\."}, headers=ADMIN),
                409, "duplicate_blacklist")
    await error(await client.post("/v2/blacklists", json={"pattern": "(unclosed"},
                                  headers=ADMIN), 400, "invalid_object")
    await error(await client.post("/v2/blacklists", json={"pattern": ""}, headers=ADMIN), 400,
                "invalid_object")
    await error(await client.post("/v2/zones", json={"name": "evil.com.", "email": "h@evil.com"},
                                  headers=ALICE), 400, "invalid_object")
    assert (await client.post("/v2/zones", json={"name": "evil.com.", "email": "h@evil.com"},
                              headers=ADMIN)).status == 202
    url = f"/v2/blacklists/{bl['id']}"
    resp = await client.patch(url, json={"pattern": "^bad\\."}, headers=ADMIN)
    assert valid(s.Blacklist, await resp.json())["pattern"] == "^bad\\."
    listing = valid(s.BlacklistList, await (await client.get(
        "/v2/blacklists?sort_key=pattern", headers=ADMIN)).json())
    assert len(listing["blacklists"]) == 1
    await error(await client.get("/v2/blacklists?sort_key=name", headers=ADMIN), 400,
                "invalid_sort_key")
    await error(await client.patch(url, json={"pattern": "x"}, headers=READER), 403, "forbidden")
    assert (await client.delete(url, headers=ADMIN)).status == 204
    await error(await client.get(url, headers=ADMIN), 404, "blacklist_not_found")


async def test_tsigkeys(client: TestClient) -> None:
    body = {"name": "key1", "algorithm": "hmac-sha256", "secret": "c2VjcmV0",
            "scope": "POOL", "resource_id": DEFAULT_POOL_ID}
    resp = await client.post("/v2/tsigkeys", json=body, headers=ADMIN)
    key = valid(s.TsigKey, await resp.json())
    assert resp.status == 201 and key["secret"] == "c2VjcmV0"
    await error(await client.post("/v2/tsigkeys", json=body, headers=ADMIN), 409,
                "duplicate_tsigkey")
    for change, kind in [({"secret": ""}, "invalid_object"),
                         ({"algorithm": "hmac-md4"}, "invalid_object"),
                         ({"scope": "WORLD"}, "invalid_object"),
                         ({"resource_id": str(uuid.uuid4())}, "invalid_tsigkey"),
                         ({"scope": "ZONE"}, "invalid_tsigkey")]:
        await error(await client.post("/v2/tsigkeys", json={**body, "name": "k2", **change},
                                      headers=ADMIN), 400, kind)
    await error(await client.post("/v2/tsigkeys", json={"name": "k3"}, headers=ADMIN), 400,
                "invalid_object")
    url = f"/v2/tsigkeys/{key['id']}"
    resp = await client.patch(url, json={"algorithm": "hmac-sha512"}, headers=ADMIN)
    assert resp.status == 200 and (await resp.json())["algorithm"] == "hmac-sha512"
    listing = valid(s.TsigKeyList, await (await client.get(
        "/v2/tsigkeys?scope=POOL&algorithm=hmac-*", headers=ADMIN)).json())
    assert [k["id"] for k in listing["tsigkeys"]] == [key["id"]]
    await error(await client.get(url, headers=ALICE), 403, "forbidden")
    assert (await client.delete(url, headers=ADMIN)).status == 204
    await error(await client.get(url, headers=ADMIN), 404, "tsigkey_not_found")


async def test_pools(client: TestClient) -> None:
    listing = valid(s.PoolList, await (await client.get("/v2/pools", headers=ADMIN)).json())
    assert [p["id"] for p in listing["pools"]] == [DEFAULT_POOL_ID]
    assert "metadata" not in listing
    default = valid(s.Pool, await (await client.get(f"/v2/pools/{DEFAULT_POOL_ID}",
                                                    headers=ADMIN)).json())
    assert default["ns_records"] == [{"hostname": "ns1.example.com.", "priority": 1}]
    await error(await client.get("/v2/pools", headers=ALICE), 403, "forbidden")

    resp = await client.post("/v2/pools", json={"name": "second", "ns_records": [
        {"hostname": "ns.second.net.", "priority": 1}]}, headers=ADMIN)
    pool = valid(s.Pool, await resp.json())
    assert resp.status == 201 and resp.headers["Location"] == pool["links"]["self"]
    await error(await client.post("/v2/pools", json={"name": "second"}, headers=ADMIN), 409,
                "duplicate_pool")
    await error(await client.post("/v2/pools", json={"name": "x", "ns_records": [
        {"hostname": "ns.x.net.", "priority": 0}]}, headers=ADMIN), 400, "invalid_object")
    await error(await client.post("/v2/pools", json={"name": "x", "ns_records": [
        {"hostname": "ns.x.net."}]}, headers=ADMIN), 400, "invalid_object")

    # PATCH is 202 (Designate); changing ns_records rewrites the apex NS of the pool's zones.
    zone = await make_zone(client)
    resp = await client.patch(f"/v2/pools/{DEFAULT_POOL_ID}", json={"ns_records": [
        {"hostname": "ns1.example.com.", "priority": 1},
        {"hostname": "ns2.example.com.", "priority": 2}]}, headers=ADMIN)
    body = valid(s.Pool, await resp.json())
    assert resp.status == 202 and len(body["ns_records"]) == 2
    ns = await (await client.get(f"/v2/zones/{zone['id']}/nameservers", headers=ALICE)).json()
    assert {n["hostname"] for n in ns["nameservers"]} == {"ns1.example.com.", "ns2.example.com."}
    rsets = await (await client.get(f"/v2/zones/{zone['id']}/recordsets?type=NS",
                                    headers=ALICE)).json()
    assert sorted(rsets["recordsets"][0]["records"]) == ["ns1.example.com.", "ns2.example.com."]
    await error(await client.patch(f"/v2/pools/{DEFAULT_POOL_ID}", json={"ns_records": []},
                                   headers=ADMIN), 400, "last_server_delete_not_allowed")
    await error(await client.delete(f"/v2/pools/{DEFAULT_POOL_ID}", headers=ADMIN), 400,
                "invalid_operation")
    assert (await client.delete(path_of(pool["links"]["self"]), headers=ADMIN)).status == 204
    await error(await client.get(f"/v2/pools/{pool['id']}", headers=ADMIN), 404,
                "pool_not_found")


async def test_quotas_and_limits(client: TestClient) -> None:
    own = valid(s.Quotas, await (await client.get("/v2/quotas", headers=ALICE)).json())
    assert own == {"zones": 10, "zone_recordsets": 500, "zone_records": 500,
                   "recordset_records": 20, "api_export_size": 1000}
    assert (await client.get("/v2/quotas/project-alice", headers=ALICE)).status == 200
    await error(await client.get("/v2/quotas/project-bob", headers=ALICE), 403, "forbidden")
    await error(await client.patch("/v2/quotas/project-alice", json={"zones": 1},
                                   headers=ALICE), 403, "forbidden")
    resp = await client.patch("/v2/quotas/project-alice", json={"zones": 1, "zone_records": -1},
                              headers=ALL)
    body = valid(s.Quotas, await resp.json())
    assert resp.status == 200 and body["zones"] == 1 and body["zone_records"] == -1
    assert body["recordset_records"] == 20
    for bad in ({"zones": "5"}, {"zones": -2}, {"zones": 2**31}, {"bogus": 1}, {"zones": 1.5}):
        await error(await client.patch("/v2/quotas/project-alice", json=bad, headers=ALL), 400,
                    "invalid_object")
    await make_zone(client, "one.com.")
    await error(await client.post("/v2/zones", json={"name": "two.com.", "email": "h@two.com"},
                                  headers=ALICE), 413, "over_quota")
    limits = valid(s.Limits, await (await client.get("/v2/limits", headers=ALICE)).json())
    assert limits["max_zones"] == 1 and limits["max_page_limit"] == 1000
    assert limits["min_ttl"] == 0 and limits["max_zone_name_length"] == 255
    assert (await client.delete("/v2/quotas/project-alice", headers=ALL)).status == 204
    assert (await (await client.get("/v2/quotas", headers=ALICE)).json())["zones"] == 10
    assert (await client.post("/v2/zones", json={"name": "two.com.", "email": "h@two.com"},
                              headers=ALICE)).status == 202
    # Bob's quotas are his own.
    assert (await (await client.get("/v2/limits", headers=BOB)).json())["max_zones"] == 10


async def test_service_statuses(client: TestClient, service: Service) -> None:
    await service.heartbeat("api", "host-a")
    await service.heartbeat("worker", "host-a", status="WARNING")
    for path in ("/v2/service_statuses", "/v2/service_status"):
        listing = valid(s.ServiceStatusList, await (await client.get(path, headers=ADMIN)).json())
        assert {x["service_name"] for x in listing["service_statuses"]} == {"api", "worker"}
        one = listing["service_statuses"][0]
        got = await client.get(f"{path}/{one['id']}", headers=ADMIN)
        assert valid(s.ServiceStatus, await got.json())["hostname"] == "host-a"
    listing = await (await client.get("/v2/service_statuses?status=WARNING",
                                      headers=ADMIN)).json()
    assert [x["service_name"] for x in listing["service_statuses"]] == ["worker"]
    await error(await client.get("/v2/service_statuses", headers=ALICE), 403, "forbidden")
    await error(await client.get(f"/v2/service_statuses/{uuid.uuid4()}", headers=ADMIN), 404,
                "service_status_not_found")
    await error(await client.get("/v2/service_statuses?sort_key=stats", headers=ADMIN), 400,
                "invalid_sort_key")
