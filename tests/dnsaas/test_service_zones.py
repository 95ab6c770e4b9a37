"""Zone rules of the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dnsaas import errors as e
from dnsaas.context import Context
from dnsaas.service import ListParams, Service
from dnsaas.storage import tables as t


async def _zone(service: Service, ctx: Context, name: str = "example.com.", **kw: object) -> dict:
    return await service.create_zone(ctx, {"name": name, "email": "admin@example.com", **kw})


async def test_create_zone_makes_soa_and_ns(service: Service, alice: Context) -> None:
    zone = await _zone(service, alice, ttl=600, description="mine")
    assert zone["status"] == "PENDING" and zone["action"] == "CREATE"
    assert zone["project_id"] == "project-alice" and zone["ttl"] == 600
    assert zone["serial"] > 1_700_000_000
    page = await service.list_recordsets(alice, zone["id"], ListParams())
    by_type = {rs["type"]: rs for rs in page.items}
    assert set(by_type) == {"SOA", "NS"} and page.total == 2
    soa = by_type["SOA"]["records"][0].split()
    assert soa[0] == "ns1.example.com." and soa[1] == "admin.example.com."
    assert int(soa[2]) == zone["serial"]
    assert by_type["NS"]["records"] == ["ns1.example.com."]


async def test_create_zone_enqueues_one_job(service: Service, alice: Context) -> None:
    zone = await _zone(service, alice)
    async with service.engine.connect() as conn:
        jobs = (await conn.execute(sa.select(t.jobs).where(t.jobs.c.zone_id == zone["id"]))).all()
    assert [(j.kind, j.state, j.target_serial) for j in jobs] == [
        ("propagate", "pending", zone["serial"])]


@pytest.mark.parametrize("values, path", [
    ({"name": "example.com", "email": "a@example.com"}, "name"),  # no trailing dot
    ({"name": "com.", "email": "a@example.com"}, "name"),  # one label
    ({"name": "*.example.com.", "email": "a@example.com"}, "name"),
    ({"name": "-bad.example.com.", "email": "a@example.com"}, "name"),
    ({"name": "a" * 64 + ".com.", "email": "a@example.com"}, "name"),
    ({"name": "example.com.", "email": "not-an-email"}, "email"),
    ({"name": "example.com.", "email": "a@b@example.com"}, "email"),
    ({"name": "example.com."}, "email"),  # required for PRIMARY
    ({"name": "example.com.", "email": "a@example.com", "ttl": -1}, "ttl"),
    ({"name": "example.com.", "email": "a@example.com", "ttl": 2**31}, "ttl"),
    ({"name": "example.com.", "email": "a@example.com", "ttl": "60"}, "ttl"),
    ({"name": "example.com.", "email": "a@example.com", "description": "x" * 161}, "description"),
    ({"name": "example.com.", "email": "a@example.com", "masters": ["1.2.3.4"]}, "masters"),
])
async def test_create_zone_rejects_bad_input(service: Service, alice: Context, values: dict,
                                             path: str) -> None:
    with pytest.raises(e.InvalidObject) as info:
        await service.create_zone(alice, values)
    assert info.value.code == 400 and info.value.type == "invalid_object"
    assert any(err["path"][0] == path for err in info.value.errors or [])
    assert (await service.list_zones(alice, ListParams())).total == 0


async def test_bad_input_reports_every_problem(service: Service, alice: Context) -> None:
    with pytest.raises(e.InvalidObject) as info:
        await service.create_zone(alice, {"name": "bad", "email": "bad", "ttl": -5})
    assert {err["path"][0] for err in info.value.errors or []} == {"name", "email", "ttl"}


async def test_secondary_zone_rules(service: Service, alice: Context) -> None:
    with pytest.raises(e.InvalidObject):
        await service.create_zone(alice, {"name": "sec.com.", "type": "SECONDARY"})
    with pytest.raises(e.InvalidObject):
        await service.create_zone(alice, {"name": "sec.com.", "type": "SECONDARY",
                                          "masters": ["192.0.2.1"], "email": "a@sec.com"})
    zone = await service.create_zone(alice, {"name": "sec.com.", "type": "SECONDARY",
                                             "masters": ["192.0.2.1", "192.0.2.2:5300"]})
    assert zone["serial"] == 1 and zone["email"] == "hostmaster@example.com"
    assert zone["masters"] == ["192.0.2.1", "192.0.2.2:5300"]
    with pytest.raises(e.Forbidden):
        await service.create_zone(alice, {"name": "cat.com.", "type": "CATALOG",
                                          "email": "a@cat.com"})


async def test_duplicate_and_cross_tenant_rules(service: Service, alice: Context,
                                                bob: Context) -> None:
    await _zone(service, alice, "example.com.")
    with pytest.raises(e.DuplicateZone):
        await _zone(service, alice, "example.com.")
    with pytest.raises(e.DuplicateZone):
        await _zone(service, bob, "example.com.")
    with pytest.raises(e.IllegalChildZone):
        await _zone(service, bob, "sub.example.com.")
    sub = await _zone(service, alice, "sub.example.com.")
    assert sub["status"] == "PENDING"
    await _zone(service, bob, "deep.other.org.")
    with pytest.raises(e.IllegalParentZone):
        await _zone(service, alice, "other.org.")
    # same-project parent gets linked; deleting the parent needs the child gone first
    parent = (await service.list_zones(alice, ListParams(filters={"name": "example.com."}))).items[0]
    with pytest.raises(e.ZoneHasSubZone):
        await service.delete_zone(alice, parent["id"])


async def test_tenancy_another_projects_zone_is_404(service: Service, alice: Context,
                                                   bob: Context, admin: Context) -> None:
    zone = await _zone(service, alice)
    for call in (service.get_zone(bob, zone["id"]),
                 service.update_zone(bob, zone["id"], {"ttl": 60}),
                 service.delete_zone(bob, zone["id"]),
                 service.list_recordsets(bob, zone["id"], ListParams())):
        with pytest.raises(e.ZoneNotFound):
            await call
    assert (await service.list_zones(bob, ListParams())).total == 0
    everyone = Context(project_id="admin-project", roles=frozenset({"admin"}), all_projects=True)
    assert (await service.list_zones(everyone, ListParams())).total == 1
    sudo = Context(project_id="admin-project", roles=frozenset({"admin"}),
                   sudo_project_id="project-alice")
    assert (await service.get_zone(sudo, zone["id"]))["name"] == "example.com."


async def test_reader_cannot_write(service: Service, alice: Context) -> None:
    reader = Context(project_id="project-alice", roles=frozenset({"reader"}))
    with pytest.raises(e.Forbidden):
        await _zone(service, reader)
    zone = await _zone(service, alice)
    assert (await service.get_zone(reader, zone["id"]))["id"] == zone["id"]


async def test_zone_quota(service: Service, alice: Context, admin: Context) -> None:
    await service.set_quotas(admin, "project-alice", {"zones": 2})
    await _zone(service, alice, "a1.com.")
    await _zone(service, alice, "a2.com.")
    with pytest.raises(e.OverQuota) as info:
        await _zone(service, alice, "a3.com.")
    assert info.value.code == 413 and "zones" in info.value.message
    assert (await service.list_zones(alice, ListParams())).total == 2


async def test_tld_and_blacklist(service: Service, alice: Context, admin: Context) -> None:
    await service.create_tld(admin, {"name": "com"})
    await service.create_tld(admin, {"name": "co.uk"})
    await _zone(service, alice, "fine.com.")
    await _zone(service, alice, "fine.co.uk.")
    with pytest.raises(e.InvalidObject, match="Invalid TLD"):
        await _zone(service, alice, "bad.net.")
    with pytest.raises(e.InvalidObject, match="Invalid TLD"):
        await _zone(service, alice, "co.uk.")
    await service.create_blacklist(admin, {"pattern": r"^evil\."})
    with pytest.raises(e.InvalidObject, match="Blacklisted"):
        await _zone(service, alice, "evil.com.")
    admin_zone = await service.create_zone(
        Context(project_id="admin-project", roles=frozenset({"admin"})),
        {"name": "evil.com.", "email": "a@evil.com"})
    assert admin_zone["name"] == "evil.com."


async def test_min_ttl_for_non_admins(db_url: str) -> None:
    from dnsaas.settings import Settings
    from dnsaas.storage import db

    engine = db.create_engine(db_url)
    try:
        service = Service(engine, Settings(database_url=db_url, min_ttl=300))
        member = Context(project_id="p", roles=frozenset({"member"}))
        with pytest.raises(e.InvalidTTL):
            await service.create_zone(member, {"name": "low.com.", "email": "a@low.com",
                                               "ttl": 60})
        admin = Context(project_id="p", roles=frozenset({"admin"}))
        assert (await service.create_zone(admin, {"name": "low.com.", "email": "a@low.com",
                                                  "ttl": 60}))["ttl"] == 60
    finally:
        await engine.dispose()


async def test_update_zone_bumps_serial_and_rewrites_soa(service: Service, alice: Context) -> None:
    zone = await _zone(service, alice)
    updated = await service.update_zone(alice, zone["id"], {"email": "new@example.com",
                                                            "ttl": 120, "description": "d"})
    assert updated["serial"] > zone["serial"] and updated["version"] == zone["version"] + 1
    assert updated["email"] == "new@example.com" and updated["ttl"] == 120
    soa = (await service.list_recordsets(alice, zone["id"], ListParams(filters={"type": "SOA"})
                                         )).items[0]["records"][0].split()
    assert soa[1] == "new.example.com." and int(soa[2]) == updated["serial"]
    with pytest.raises(e.BadRequest):
        await service.update_zone(alice, zone["id"], {"name": "other.com."})


async def test_serial_never_goes_backwards(service: Service, alice: Context) -> None:
    zone = await _zone(service, alice)
    future = 2_100_000_000  # a YYYYMMDDnn-style serial ahead of the clock
    async with service.engine.begin() as conn:
        await conn.execute(t.zones.update().where(t.zones.c.id == zone["id"]).values(serial=future))
    updated = await service.update_zone(alice, zone["id"], {"ttl": 300})
    assert updated["serial"] == future + 1


async def test_delete_zone_then_propagated_is_gone(service: Service, alice: Context) -> None:
    zone = await _zone(service, alice)
    deleted = await service.delete_zone(alice, zone["id"])
    assert deleted["action"] == "DELETE" and deleted["status"] == "PENDING"
    with pytest.raises(e.BadRequest, match="deleting"):
        await service.update_zone(alice, zone["id"], {"ttl": 60})
    assert await service.mark_propagated(zone["id"], deleted["serial"]) == "PENDING"
    assert await service.mark_propagated(zone["id"], deleted["serial"], deleted=True) == "DELETED"
    with pytest.raises(e.ZoneNotFound):
        await service.get_zone(alice, zone["id"])
    again = await _zone(service, alice)  # the name is free again
    assert again["id"] != zone["id"]


async def test_mark_propagated_and_error(service: Service, alice: Context) -> None:
    zone = await _zone(service, alice)
    rs = await service.create_recordset(alice, zone["id"], {"name": "www.example.com.",
                                                           "type": "A", "records": ["192.0.2.1"]})
    await service.mark_error(zone["id"])
    assert (await service.get_zone(alice, zone["id"]))["status"] == "ERROR"
    assert await service.mark_propagated(zone["id"], zone["serial"]) == "ERROR"  # too old
    assert await service.mark_propagated(zone["id"], rs["_serial"]) == "ACTIVE"
    got = await service.get_recordset(alice, zone["id"], rs["id"])
    assert got["status"] == "ACTIVE" and got["action"] == "NONE"


async def test_mark_propagated_covers_only_serials_served(service: Service, alice: Context) -> None:
    zone = await _zone(service, alice)
    rs1 = await service.create_recordset(alice, zone["id"], {"name": "a.example.com.",
                                                            "type": "A", "records": ["192.0.2.1"]})
    rs2 = await service.create_recordset(alice, zone["id"], {"name": "b.example.com.",
                                                            "type": "A", "records": ["192.0.2.2"]})
    assert await service.mark_propagated(zone["id"], rs1["_serial"]) == "PENDING"
    assert (await service.get_recordset(alice, zone["id"], rs1["id"]))["status"] == "ACTIVE"
    assert (await service.get_recordset(alice, zone["id"], rs2["id"]))["status"] == "PENDING"
    assert await service.mark_propagated(zone["id"], rs2["_serial"]) == "ACTIVE"
    assert (await service.get_recordset(alice, zone["id"], rs2["id"]))["status"] == "ACTIVE"
    assert await service.mark_propagated("no-such-zone", rs2["_serial"]) is None


async def test_list_zones_filters_sort_and_markers(service: Service, alice: Context,
                                                   admin: Context) -> None:
    await service.set_quotas(admin, "project-alice", {"zones": -1})
    names = [f"z{i:02d}.example{i % 3}.com." for i in range(12)]
    for n in names:
        await _zone(service, alice, n)
    page = await service.list_zones(alice, ListParams(filters={"name": "*example1*"}))
    assert page.total == 4 and all("example1" in z["name"] for z in page.items)
    seen, marker = [], None
    while True:
        page = await service.list_zones(alice, ListParams(sort_key="name", sort_dir="desc",
                                                          limit=5, marker=marker))
        assert page.total == 12
        seen += [z["name"] for z in page.items]
        if len(page.items) < 5:
            break
        marker = page.items[-1]["id"]
    assert seen == sorted(names, reverse=True)
    with pytest.raises(e.MarkerNotFound):
        await service.list_zones(alice, ListParams(marker="00000000-0000-0000-0000-000000000001"))
    with pytest.raises(e.InvalidMarker):
        await service.list_zones(alice, ListParams(marker="nope"))
    with pytest.raises(e.BadRequest):
        await service.list_zones(alice, ListParams(filters={"ttl": "abc"}))


async def test_nameservers(service: Service, alice: Context) -> None:
    zone = await _zone(service, alice)
    assert await service.zone_nameservers(alice, zone["id"]) == [
        {"hostname": "ns1.example.com.", "priority": 1}]
