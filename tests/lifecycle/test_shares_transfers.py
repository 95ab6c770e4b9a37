"""Shared zones (§1.8), ownership transfer (§1.7) and zone tasks (§1.4) over HTTP."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from lifehelp import ADMIN, ADMIN_ALL, ALICE, BOB, CAROL, READER, error, make_rs, make_zone

from dnsaas.context import Context
from dnsaas.service import Service


async def _share(client: TestClient, zone_id: str, target: str = "project-bob") -> dict:
    resp = await client.post(f"/v2/zones/{zone_id}/shares", json={"target_project_id": target},
                             headers=ALICE)
    body = await resp.json()
    assert resp.status == 201, body
    assert resp.headers["Location"] == body["links"]["self"]
    return body


# --- shares ---------------------------------------------------------------------------------
async def test_share_lifecycle_and_errors(client: TestClient) -> None:
    zone = await make_zone(client, "shared.test.")
    zid = zone["id"]
    share = await _share(client, zid)
    assert share["zone_id"] == zid and share["project_id"] == "project-alice"
    assert share["target_project_id"] == "project-bob"
    assert share["links"]["zone"].endswith(f"/v2/zones/{zid}")
    await error(await client.post(f"/v2/zones/{zid}/shares",
                                  json={"target_project_id": "project-bob"}, headers=ALICE),
                409, "duplicate_shared_zone")
    body = await error(await client.post(f"/v2/zones/{zid}/shares",
                                         json={"target_project_id": "project-alice"},
                                         headers=ALICE), 400, "bad_request")
    assert body["message"] == "Cannot share the zone with the zone owner."
    await error(await client.post(f"/v2/zones/{zid}/shares", json={}, headers=ALICE), 400,
                "invalid_object")
    await error(await client.post(f"/v2/zones/{uuid.uuid4()}/shares",
                                  json={"target_project_id": "x"}, headers=ALICE), 404,
                "zone_not_found")
    await error(await client.post(f"/v2/zones/{zid}/shares", json={"target_project_id": "x"},
                                  headers=CAROL), 404, "zone_not_found")
    # The target may not re-share.
    await error(await client.post(f"/v2/zones/{zid}/shares",
                                  json={"target_project_id": "project-carol"}, headers=BOB),
                403, "forbidden")
    await _share(client, zid, "project-carol")
    owner_list = await (await client.get(f"/v2/zones/{zid}/shares", headers=ALICE)).json()
    assert {s["target_project_id"] for s in owner_list["shared_zones"]} == {
        "project-bob", "project-carol"}
    assert "metadata" not in owner_list
    filtered = await (await client.get(f"/v2/zones/{zid}/shares?target_project_id=project-bob",
                                       headers=ALICE)).json()
    assert [s["id"] for s in filtered["shared_zones"]] == [share["id"]]
    bob_list = await (await client.get(f"/v2/zones/{zid}/shares", headers=BOB)).json()
    assert [s["target_project_id"] for s in bob_list["shared_zones"]] == ["project-bob"]
    got = await client.get(f"/v2/zones/{zid}/shares/{share['id']}", headers=BOB)
    assert got.status == 200
    await error(await client.get(f"/v2/zones/{zid}/shares/{uuid.uuid4()}", headers=ALICE), 404,
                "shared_zone_not_found")
    # Deleting a shared zone needs X-Designate-Delete-Shares.
    await error(await client.delete(f"/v2/zones/{zid}", headers=ALICE), 400, "zone_is_shared")
    resp = await client.delete(f"/v2/zones/{zid}/shares/{share['id']}", headers=ALICE)
    assert resp.status == 204
    await error(await client.get(f"/v2/zones/{zid}", headers=BOB), 404, "zone_not_found")


async def test_shared_zone_permission_matrix(client: TestClient, service: Service) -> None:
    zone = await make_zone(client, "matrix.test.")
    zid = zone["id"]
    share = await _share(client, zid)
    # Reads: the zone (shared: true), its nameservers and recordsets, also in lists.
    got = await (await client.get(f"/v2/zones/{zid}", headers=BOB)).json()
    assert got["shared"] is True and got["project_id"] == "project-alice"
    listed = await (await client.get("/v2/zones", headers=BOB)).json()
    assert [z["id"] for z in listed["zones"]] == [zid]
    assert (await client.get(f"/v2/zones/{zid}/nameservers", headers=BOB)).status == 200
    rs = await (await client.get(f"/v2/zones/{zid}/recordsets", headers=BOB)).json()
    assert {r["type"] for r in rs["recordsets"]} == {"SOA", "NS"}
    # Recordset CRUD.
    resp = await make_rs(client, zid, "bob.matrix.test.", "A", ["192.0.2.1"], headers=BOB)
    bob_rs = await resp.json()
    assert resp.status == 202 and bob_rs["project_id"] == "project-bob"
    resp = await client.put(f"/v2/zones/{zid}/recordsets/{bob_rs['id']}",
                            json={"records": ["192.0.2.2"]}, headers=BOB)
    assert resp.status == 202
    # Forbidden for the target: zone update/delete/export/transfer/subzone/abandon.
    await error(await client.patch(f"/v2/zones/{zid}", json={"ttl": 60}, headers=BOB), 403,
                "forbidden")
    await error(await client.delete(f"/v2/zones/{zid}", headers=BOB), 403, "forbidden")
    await error(await client.post(f"/v2/zones/{zid}/tasks/export", headers=BOB), 403,
                "forbidden")
    await error(await client.post(f"/v2/zones/{zid}/tasks/transfer_requests", headers=BOB),
                403, "forbidden")
    await error(await client.post("/v2/zones", json={"name": "sub.matrix.test.",
                                                     "email": "a@b.test"}, headers=BOB),
                403, "illegal_child")
    await error(await client.post(f"/v2/zones/{zid}/tasks/abandon", headers=BOB), 403,
                "forbidden")
    await error(await client.delete(f"/v2/zones/{zid}/shares/{share['id']}", headers=BOB), 403,
                "forbidden")
    # The owner's export file is 404 for the target.
    export = await (await client.post(f"/v2/zones/{zid}/tasks/export", headers=ALICE)).json()
    await service.wait_background()
    await error(await client.get(f"/v2/zones/tasks/exports/{export['id']}/export",
                                 headers=BOB), 404, "zone_export_not_found")
    # Unshare is refused while the target owns recordsets; the owner can delete them.
    body = await error(await client.delete(f"/v2/zones/{zid}/shares/{share['id']}",
                                           headers=ALICE), 400, "shared_zone_has_recordsets")
    assert body["code"] == 400
    resp = await client.delete(f"/v2/zones/{zid}/recordsets/{bob_rs['id']}", headers=ALICE)
    assert resp.status == 202
    assert (await client.delete(f"/v2/zones/{zid}/shares/{share['id']}",
                                headers=ALICE)).status == 204
    await error(await client.post(f"/v2/zones/{zid}/recordsets", json={
        "name": "x.matrix.test.", "type": "A", "records": ["192.0.2.3"]}, headers=BOB), 404,
        "zone_not_found")
    # Delete with shares: the header removes them.
    await _share(client, zid)
    resp = await client.delete(f"/v2/zones/{zid}", headers={**ALICE,
                                                            "X-Designate-Delete-Shares": "true"})
    assert resp.status == 202


# --- transfers ------------------------------------------------------------------------------
async def test_transfer_request_and_accept(client: TestClient, service: Service) -> None:
    zone = await make_zone(client, "moving.test.")
    zid = zone["id"]
    await make_rs(client, zid, "www.moving.test.", "A", ["192.0.2.1"])
    resp = await client.post(f"/v2/zones/{zid}/tasks/transfer_requests",
                             json={"target_project_id": "project-bob", "description": "yours"},
                             headers=ALICE)
    req = await resp.json()
    assert resp.status == 201, req
    assert resp.headers["Location"] == req["links"]["self"]
    assert req["status"] == "ACTIVE" and req["zone_name"] == "moving.test."
    key = req["key"]
    assert len(key) == 8 and key.isalnum() and key.upper() == key
    rid = req["id"]
    # The target sees a reduced view; others nothing.
    seen = await (await client.get(f"/v2/zones/tasks/transfer_requests/{rid}",
                                   headers=BOB)).json()
    assert set(seen) == {"id", "zone_id", "zone_name", "description", "status", "links"}
    bob_list = await (await client.get("/v2/zones/tasks/transfer_requests", headers=BOB)).json()
    assert [r["id"] for r in bob_list["transfer_requests"]] == [rid]
    assert "metadata" not in bob_list
    await error(await client.get(f"/v2/zones/tasks/transfer_requests/{rid}", headers=CAROL),
                404, "zone_transfer_request_not_found")
    # PATCH rules.
    resp = await client.patch(f"/v2/zones/tasks/transfer_requests/{rid}",
                              json={"description": "changed"}, headers=ALICE)
    assert resp.status == 200 and (await resp.json())["description"] == "changed"
    await error(await client.patch(f"/v2/zones/tasks/transfer_requests/{rid}",
                                   json={"target_project_id": "project-carol"}, headers=ALICE),
                400, "bad_request")
    await error(await client.patch(f"/v2/zones/tasks/transfer_requests/{rid}",
                                   json={"zone_id": str(uuid.uuid4())}, headers=ALICE),
                400, "bad_request")
    await error(await client.patch(f"/v2/zones/tasks/transfer_requests/{rid}",
                                   json={"description": "x"}, headers=BOB), 403, "forbidden")
    # Accept: another target 403, a wrong key 403 invalid_key (nothing changes).
    await error(await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": key, "zone_transfer_request_id": rid}, headers=CAROL), 403, "forbidden")
    await error(await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": "WRONGKEY", "zone_transfer_request_id": rid}, headers=BOB), 403, "invalid_key")
    assert (await (await client.get(f"/v2/zones/{zid}", headers=ALICE)).json())["id"] == zid
    await error(await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": key}, headers=BOB), 400, "invalid_object")
    await error(await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": key, "zone_transfer_request_id": str(uuid.uuid4())}, headers=BOB), 404,
        "zone_transfer_request_not_found")
    resp = await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": key, "zone_transfer_request_id": rid}, headers=BOB)
    accept = await resp.json()
    assert resp.status == 201, accept
    assert accept["status"] == "COMPLETE" and accept["project_id"] == "project-bob"
    assert accept["zone_id"] == zid and accept["links"]["zone"].endswith(f"/v2/zones/{zid}")
    moved = await (await client.get(f"/v2/zones/{zid}", headers=BOB)).json()
    assert moved["project_id"] == "project-bob"
    await error(await client.get(f"/v2/zones/{zid}", headers=ALICE), 404, "zone_not_found")
    rs = await (await client.get(f"/v2/zones/{zid}/recordsets", headers=BOB)).json()
    assert {r["project_id"] for r in rs["recordsets"]} == {"project-bob"}
    done = await (await client.get(f"/v2/zones/tasks/transfer_requests/{rid}",
                                   headers=ALICE)).json()
    assert done["status"] == "COMPLETE"
    body = await error(await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": key, "zone_transfer_request_id": rid}, headers=CAROL), 403, "forbidden")
    assert body
    got = await (await client.get(f"/v2/zones/tasks/transfer_accepts/{accept['id']}",
                                  headers=BOB)).json()
    assert got["id"] == accept["id"]
    await error(await client.get(f"/v2/zones/tasks/transfer_accepts/{accept['id']}",
                                 headers=CAROL), 404, "zone_transfer_accept_not_found")
    await error(await client.get("/v2/zones/tasks/transfer_accepts", headers=BOB), 403,
                "forbidden")
    listing = await (await client.get("/v2/zones/tasks/transfer_accepts", headers=ADMIN)).json()
    assert [a["id"] for a in listing["transfer_accepts"]] == [accept["id"]]
    assert listing["metadata"]["total_count"] == 1


async def test_transfer_open_request_used_and_quota(client: TestClient, service: Service) -> None:
    zone = await make_zone(client, "open.test.")
    resp = await client.post(f"/v2/zones/{zone['id']}/tasks/transfer_requests", headers=ALICE)
    req = await resp.json()
    assert resp.status == 201 and req["target_project_id"] is None
    # Open requests are not listed for others but can be read by id.
    assert (await (await client.get("/v2/zones/tasks/transfer_requests", headers=CAROL)).json()
            )["transfer_requests"] == []
    assert (await client.get(f"/v2/zones/tasks/transfer_requests/{req['id']}",
                             headers=CAROL)).status == 200
    # The accepting project's zone quota applies; the accept is kept in ERROR.
    await service.set_quotas(Context("admin", roles=frozenset({"admin"})), "project-carol",
                             {"zones": 0})
    await error(await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": req["key"], "zone_transfer_request_id": req["id"]}, headers=CAROL), 413,
        "over_quota")
    failed = await (await client.get("/v2/zones/tasks/transfer_accepts?status=ERROR",
                                     headers=ADMIN)).json()
    assert len(failed["transfer_accepts"]) == 1
    resp = await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": req["key"], "zone_transfer_request_id": req["id"]}, headers=BOB)
    assert resp.status == 201
    body = await error(await client.post("/v2/zones/tasks/transfer_accepts", json={
        "key": req["key"], "zone_transfer_request_id": req["id"]}, headers=CAROL), 400,
        "bad_request")
    assert "has been used" in body["message"]
    # Requests: unknown zone 404, reader 403, deleting zone 400, delete 204.
    await error(await client.post(f"/v2/zones/{uuid.uuid4()}/tasks/transfer_requests",
                                  headers=ALICE), 404, "zone_not_found")
    other = await make_zone(client, "other.test.")
    await error(await client.post(f"/v2/zones/{other['id']}/tasks/transfer_requests",
                                  headers=READER), 403, "forbidden")
    req2 = await (await client.post(f"/v2/zones/{other['id']}/tasks/transfer_requests",
                                    json={}, headers=ALICE)).json()
    await error(await client.delete(f"/v2/zones/tasks/transfer_requests/{req2['id']}",
                                    headers=CAROL), 403, "forbidden")
    assert (await client.delete(f"/v2/zones/tasks/transfer_requests/{req2['id']}",
                                headers=ALICE)).status == 204
    await client.delete(f"/v2/zones/{other['id']}", headers=ALICE)
    await error(await client.post(f"/v2/zones/{other['id']}/tasks/transfer_requests",
                                  headers=ALICE), 400, "bad_request")


# --- zone tasks -----------------------------------------------------------------------------
async def test_zone_tasks(client: TestClient, service: Service) -> None:
    zone = await make_zone(client, "tasks.test.")
    zid = zone["id"]
    body = await error(await client.post(f"/v2/zones/{zid}/tasks/xfr", headers=ALICE), 400,
                       "bad_request")
    assert body["message"] == "Can't XFR a non Secondary zone"
    resp = await client.post("/v2/zones", json={"name": "sec.test.", "type": "SECONDARY",
                                                "masters": ["192.0.2.53"]}, headers=ALICE)
    sec = await resp.json()
    assert resp.status == 202, sec
    resp = await client.post(f"/v2/zones/{sec['id']}/tasks/xfr", headers=ALICE)
    assert resp.status == 202 and await resp.read() == b""
    await error(await client.post(f"/v2/zones/{sec['id']}/tasks/xfr", headers=BOB), 404,
                "zone_not_found")
    # abandon: admin only, database only.
    await error(await client.post(f"/v2/zones/{zid}/tasks/abandon", headers=ALICE), 403,
                "forbidden")
    await error(await client.post(f"/v2/zones/{zid}/tasks/abandon", headers=ADMIN), 404,
                "zone_not_found")
    resp = await client.get(f"/v2/zones/{zid}/tasks/abandon", headers=ADMIN_ALL)
    assert resp.status == 405
    resp = await client.post(f"/v2/zones/{zid}/tasks/abandon", headers=ADMIN_ALL)
    assert resp.status == 204 and await resp.read() == b""
    await error(await client.get(f"/v2/zones/{zid}", headers=ALICE), 404, "zone_not_found")
    again = await make_zone(client, "tasks.test.")  # the name is free again
    # pool_move: admin only; to the same pool 400; unknown pool 400.
    await error(await client.post(f"/v2/zones/{again['id']}/tasks/pool_move", headers=ALICE),
                403, "forbidden")
    body = await error(await client.post(f"/v2/zones/{again['id']}/tasks/pool_move",
                                         headers=ADMIN_ALL), 400, "bad_request")
    assert body["message"] == "Target pool must be different for zone pool move"
    await error(await client.post(f"/v2/zones/{again['id']}/tasks/pool_move",
                                  json={"pool_id": str(uuid.uuid4())}, headers=ADMIN_ALL),
                400, "bad_request")
    await error(await client.post(f"/v2/zones/{again['id']}/tasks/pool_move",
                                  json={"pool_id": 5}, headers=ADMIN_ALL), 400, "invalid_object")
    resp = await client.post("/v2/pools", json={
        "name": "second", "ns_records": [{"hostname": "ns1.second.test.", "priority": 1},
                                         {"hostname": "ns2.second.test.", "priority": 2}]},
        headers=ADMIN)
    pool = await resp.json()
    assert resp.status == 201, pool
    resp = await client.post(f"/v2/zones/{again['id']}/tasks/pool_move",
                             json={"pool_id": pool["id"]}, headers=ADMIN_ALL)
    assert resp.status == 202, await resp.text()
    moved = await (await client.get(f"/v2/zones/{again['id']}", headers=ALICE)).json()
    assert moved["pool_id"] == pool["id"] and moved["serial"] > again["serial"]
    rs = await (await client.get(f"/v2/zones/{again['id']}/recordsets", headers=ALICE)).json()
    by_type = {r["type"]: r["records"] for r in rs["recordsets"]}
    assert sorted(by_type["NS"]) == ["ns1.second.test.", "ns2.second.test."]
    assert by_type["SOA"][0].startswith("ns1.second.test. ")
