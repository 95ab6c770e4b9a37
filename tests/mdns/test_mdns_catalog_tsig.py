"""pools.yaml ``catalog_zone_tsig_key``: the catalog zone needs TSIG with that key, the key is
kept by the pool file (not the API) and opens nothing else."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.zone
import pytest
import sqlalchemy as sa
import yaml
from mdns_helpers import dig, raw_tcp

from dnsaas import errors as e
from dnsaas.context import Context
from dnsaas.pools import PoolFileError, apply_pools, current_pools, load_pools_yaml
from dnsaas.service import Service
from dnsaas.storage import tables as t
from mdns.server import MdnsServer

SECRET = base64.b64encode(b"catalog-secret-0123456789abcdef!").decode()
CATALOG = "cat.pool.test."


def rcode_tcp(port: int, q: dns.message.Message) -> int:
    wire = raw_tcp(port, q.to_wire())[0]
    return dns.message.from_wire(wire, keyring=False).rcode()


async def set_catalog(service: Service, catalog: dict[str, Any] | None) -> None:
    """Re-apply the current pools with the first pool's ``catalog_zone`` replaced."""
    async with service.engine.begin() as conn:
        specs = await current_pools(conn)
    if catalog is None:
        specs[0].pop("catalog_zone", None)
    else:
        specs[0]["catalog_zone"] = catalog
    async with service.engine.begin() as conn:
        await apply_pools(conn, load_pools_yaml(yaml.safe_dump(specs)))


def catalog_keys(rows: list[Any]) -> list[tuple[str, str, str]]:
    return [(r.name, r.scope, r.algorithm) for r in rows]


async def test_catalog_key_guards_the_catalog_only(mdns: MdnsServer, service: Service,
                                                   admin: Context, zone: dict[str, Any]) -> None:
    await set_catalog(service, {"catalog_zone_fqdn": CATALOG, "catalog_zone_tsig_key": SECRET,
                                "catalog_zone_tsig_algorithm": "hmac-sha256"})
    async with service.engine.connect() as conn:
        rows = (await conn.execute(sa.select(t.tsigkeys))).all()
    assert catalog_keys(rows) == [(CATALOG, "CATALOG", "hmac-sha256")]
    assert rows[0].resource_id == zone["pool_id"]
    key = dns.tsig.Key(CATALOG, SECRET, "hmac-sha256")

    # unsigned: the catalog is refused, the member zone is not (its rules are unchanged)
    assert await asyncio.to_thread(
        rcode_tcp, mdns.port, dns.message.make_query(CATALOG, "AXFR")) == dns.rcode.REFUSED
    assert await asyncio.to_thread(
        rcode_tcp, mdns.port, dns.message.make_query("example.test.", "AXFR")) == dns.rcode.NOERROR
    # signed with the catalog key: the catalog transfers, its member is listed
    z = await asyncio.to_thread(lambda: dns.zone.from_xfr(dns.query.xfr(
        "127.0.0.1", CATALOG, port=mdns.port, keyring={key.name: key}, keyname=key.name,
        timeout=5)))
    assert any(rds[0].to_text() == "example.test." for _n, rds in z.iterate_rdatasets("PTR"))
    out = await dig(mdns.port, "-y", f"hmac-sha256:{CATALOG}:{SECRET}", CATALOG, "AXFR")
    assert "XFR size:" in out and "tsig verify failure" not in out.lower()
    # the catalog key opens nothing else
    q = dns.message.make_query("example.test.", "AXFR")
    q.use_tsig(key)
    assert await asyncio.to_thread(rcode_tcp, mdns.port, q) == dns.rcode.REFUSED

    # the API shows the key but cannot change or delete it: the pool file owns it
    with pytest.raises(e.InvalidObject, match="pools.yaml"):
        await service.update_tsigkey(admin, rows[0].id, {"name": "renamed"})
    with pytest.raises(e.InvalidObject, match="pools.yaml"):
        await service.delete_tsigkey(admin, rows[0].id)

    # a new secret replaces the key; dropping it from the file opens the catalog again
    other = base64.b64encode(b"another-catalog-secret-012345678").decode()
    await set_catalog(service, {"catalog_zone_fqdn": CATALOG, "catalog_zone_tsig_key": other,
                                "catalog_zone_tsig_algorithm": "hmac-sha512"})
    async with service.engine.connect() as conn:
        rows = (await conn.execute(sa.select(t.tsigkeys))).all()
    assert catalog_keys(rows) == [(CATALOG, "CATALOG", "hmac-sha512")] and rows[0].secret == other
    await set_catalog(service, {"catalog_zone_fqdn": CATALOG})
    async with service.engine.connect() as conn:
        assert (await conn.execute(sa.select(t.tsigkeys))).all() == []
    # the rules are read with each transfer, so the change holds at once
    assert await asyncio.to_thread(
        rcode_tcp, mdns.port, dns.message.make_query(CATALOG, "AXFR")) == dns.rcode.NOERROR


async def test_catalog_key_name_clash_changes_nothing(service: Service, admin: Context,
                                                      zone: dict[str, Any]) -> None:
    await service.create_tsigkey(admin, {"name": CATALOG, "algorithm": "hmac-sha256",
                                         "secret": SECRET, "scope": "POOL",
                                         "resource_id": zone["pool_id"]})
    with pytest.raises(PoolFileError, match="already exists"):
        await set_catalog(service, {"catalog_zone_fqdn": CATALOG, "catalog_zone_tsig_key": SECRET,
                                    "catalog_zone_tsig_algorithm": "hmac-sha256"})
    async with service.engine.connect() as conn:
        pool = (await conn.execute(sa.select(t.pools.c.catalog_zone_fqdn).where(
            t.pools.c.id == zone["pool_id"]))).scalar_one()
        keys = (await conn.execute(sa.select(t.tsigkeys.c.scope))).scalars().all()
    assert pool is None and keys == ["POOL"]


@pytest.mark.parametrize(("catalog", "words"), [
    ("{catalog_zone_fqdn: cat.x., catalog_zone_tsig_key: " + SECRET + "}", "is required"),
    ("{catalog_zone_fqdn: cat.x., catalog_zone_tsig_algorithm: hmac-sha256}", "without"),
    ("{catalog_zone_fqdn: cat.x., catalog_zone_tsig_key: 'not base64!', "
     "catalog_zone_tsig_algorithm: hmac-sha256}", "base64"),
    ("{catalog_zone_fqdn: cat.x., catalog_zone_tsig_key: " + SECRET + ", "
     "catalog_zone_tsig_algorithm: hmac-sha999}", "must be one of"),
])
def test_bad_catalog_key_names_the_line(catalog: str, words: str) -> None:
    text = f"- name: p\n  ns_records: [{{hostname: ns.x., priority: 1}}]\n  catalog_zone: {catalog}\n"
    with pytest.raises(PoolFileError) as err:
        load_pools_yaml(text)
    assert "line 3:" in str(err.value) and words in str(err.value), str(err.value)
