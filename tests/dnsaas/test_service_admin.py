"""TLDs, blacklists, TSIG keys, quotas and pools through the service layer."""

from __future__ import annotations

import asyncio

import pytest

from dnsaas import errors as e
from dnsaas.context import Context
from dnsaas.service import ListParams, Service
from dnsaas.settings import DEFAULT_POOL_ID

SECRET = "1wqLxMbRNj3gm+2wPTYjmLQiK81rOUga/Tkb5qCNpD4="


async def test_admin_resources_need_admin(service: Service, alice: Context) -> None:
    for call in (service.create_tld(alice, {"name": "com"}),
                 service.list_blacklists(alice, ListParams()),
                 service.list_pools(alice, ListParams()),
                 service.set_quotas(alice, "project-alice", {"zones": 99})):
        with pytest.raises(e.Forbidden):
            await call


async def test_tld_crud(service: Service, admin: Context) -> None:
    tld = await service.create_tld(admin, {"name": "com", "description": "commercial"})
    with pytest.raises(e.DuplicateTld):
        await service.create_tld(admin, {"name": "com"})
    with pytest.raises(e.InvalidObject):
        await service.create_tld(admin, {"name": "bad tld."})
    upd = await service.update_tld(admin, tld["id"], {"description": "changed"})
    assert upd["description"] == "changed" and upd["updated_at"] is not None
    assert (await service.list_tlds(admin, ListParams(filters={"name": "c*"}))).total == 1
    await service.delete_tld(admin, tld["id"])
    with pytest.raises(e.TldNotFound):
        await service.get_tld(admin, tld["id"])


async def test_blacklist_validation(service: Service, admin: Context) -> None:
    with pytest.raises(e.InvalidObject):
        await service.create_blacklist(admin, {"pattern": "(unclosed"})
    with pytest.raises(e.InvalidObject):
        await service.create_blacklist(admin, {"pattern": ""})
    bl = await service.create_blacklist(admin, {"pattern": "^bad\\."})
    with pytest.raises(e.DuplicateBlacklist):
        await service.create_blacklist(admin, {"pattern": "^bad\\."})
    assert (await service.get_blacklist(admin, bl["id"]))["pattern"] == "^bad\\."


async def test_tsigkeys(service: Service, admin: Context) -> None:
    key = await service.create_tsigkey(admin, {"name": "xfr-key", "algorithm": "hmac-sha256",
                                               "secret": SECRET, "scope": "POOL",
                                               "resource_id": DEFAULT_POOL_ID})
    assert key["secret"] == SECRET
    bad = [{"algorithm": "hmac-foo"}, {"secret": ""}, {"secret": "not base64!"},
           {"scope": "GLOBAL"}]
    for change in bad:
        values = {"name": "k2", "algorithm": "hmac-sha256", "secret": SECRET, "scope": "POOL",
                  "resource_id": DEFAULT_POOL_ID, **change}
        with pytest.raises(e.InvalidObject):
            await service.create_tsigkey(admin, values)
    with pytest.raises(e.InvalidTsigKey):
        await service.create_tsigkey(admin, {"name": "k3", "algorithm": "hmac-sha256",
                                             "secret": SECRET, "scope": "ZONE",
                                             "resource_id": DEFAULT_POOL_ID})
    with pytest.raises(e.DuplicateTsigKey):
        await service.create_tsigkey(admin, {"name": "xfr-key", "algorithm": "hmac-sha256",
                                             "secret": SECRET, "scope": "POOL",
                                             "resource_id": DEFAULT_POOL_ID})


async def test_quotas(service: Service, admin: Context, alice: Context) -> None:
    assert await service.get_quotas(alice) == {"zones": 10, "zone_recordsets": 500,
                                               "zone_records": 500, "recordset_records": 20,
                                               "api_export_size": 1000}
    with pytest.raises(e.Forbidden):
        await service.get_quotas(alice, "project-bob")
    new = await service.set_quotas(admin, "project-alice", {"zones": 3, "zone_records": -1})
    assert new["zones"] == 3 and new["zone_records"] == -1 and new["zone_recordsets"] == 500
    for bad in ({"zonez": 1}, {"zones": "3"}, {"zones": -2}, {"zones": 2**31}):
        with pytest.raises(e.InvalidObject):
            await service.set_quotas(admin, "project-alice", bad)
    await service.reset_quotas(admin, "project-alice")
    assert (await service.get_quotas(alice))["zones"] == 10


async def test_pool_ns_change_rewrites_apex_ns(service: Service, admin: Context,
                                               alice: Context) -> None:
    zone = await service.create_zone(alice, {"name": "example.com.", "email": "a@example.com"})
    pools = await service.list_pools(admin, ListParams())
    assert [p["name"] for p in pools.items] == ["default"]
    with pytest.raises(e.LastServerDeleteNotAllowed):
        await service.update_pool(admin, DEFAULT_POOL_ID, {"ns_records": []})
    await service.update_pool(admin, DEFAULT_POOL_ID, {"ns_records": [
        {"hostname": "ns1.example.com.", "priority": 1},
        {"hostname": "ns2.example.net.", "priority": 2}]})
    ns = (await service.list_recordsets(alice, zone["id"], ListParams(filters={"type": "NS"}))
          ).items[0]
    assert sorted(ns["records"]) == ["ns1.example.com.", "ns2.example.net."]
    assert (await service.get_zone(alice, zone["id"]))["serial"] > zone["serial"]
    with pytest.raises(e.InvalidOperation):
        await service.delete_pool(admin, DEFAULT_POOL_ID)
    other = await service.create_pool(admin, {"name": "second", "ns_records": [
        {"hostname": "ns.second.com.", "priority": 1}]})
    with pytest.raises(e.DuplicatePool):
        await service.create_pool(admin, {"name": "second", "ns_records": [
            {"hostname": "ns.second.com.", "priority": 1}]})
    await service.delete_pool(admin, other["id"])


async def test_heartbeat_and_service_statuses(service: Service, admin: Context) -> None:
    await service.heartbeat("worker", "host-a")
    await service.heartbeat("worker", "host-a", stats={"jobs": 3})
    page = await service.list_service_statuses(admin, ListParams())
    assert page.total == 1 and page.items[0]["stats"] == {"jobs": 3}
    assert page.items[0]["status"] == "UP" and page.items[0]["heartbeated_at"]


async def test_concurrent_first_heartbeats_make_one_row(service: Service, admin: Context) -> None:
    # Two API workers on one host heartbeat at start-up at the same moment: no IntegrityError.
    await asyncio.gather(*(service.heartbeat("api", "host-b", stats={"n": i}) for i in range(8)))
    page = await service.list_service_statuses(admin, ListParams())
    rows = [r for r in page.items if r["service_name"] == "api"]
    assert len(rows) == 1 and rows[0]["hostname"] == "host-b" and rows[0]["stats"]["n"] in range(8)
