"""pools.yaml: validation with line numbers, apply/diff/dry-run/delete, and the CLI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dnsaas.cli import main
from dnsaas.pools import PoolFileError, apply_pools, current_pools, load_pools_yaml, read_pool
from dnsaas.service import Service
from dnsaas.settings import DEFAULT_POOL_ID
from dnsaas.storage import tables as t

GOOD = f"""\
- name: default
  id: {DEFAULT_POOL_ID}
  description: Default pool
  attributes: {{threshold_percentage: 50}}
  ns_records:
    - hostname: ns1.example.org.
      priority: 1
    - hostname: ns2.example.org.
      priority: 2
  nameservers:
    - host: 192.0.2.2
      port: 53
    - host: 192.0.2.3
      port: 5300
  targets:
    - type: bind9
      description: BIND
      masters:
        - host: 192.0.2.1
          port: 5354
      options:
        host: 192.0.2.2
        port: 53
        rndc_host: 192.0.2.2
        rndc_port: 953
  also_notifies:
    - host: 192.0.2.4
      port: 53
- name: second
  ns_records:
    - hostname: ns.second.org.
      priority: 1
  targets:
    - type: catalog
      masters: [{{host: 192.0.2.1, port: 5354}}]
  catalog_zone:
    catalog_zone_fqdn: cat.second.org.
"""


def test_good_file_loads() -> None:
    pools = load_pools_yaml(GOOD)
    assert [p.name for p in pools] == ["default", "second"]
    assert pools[0].targets[0].options["rndc_port"] == 953
    assert pools[1].catalog_zone is not None


@pytest.mark.parametrize(("bad", "line", "words"), [
    (GOOD.replace("    - host: 192.0.2.3", "    - host: 192.0.2.300"), 13, "IP address"),
    (GOOD.replace("  also_notifies:", "  also_notify:"), 26, "Extra inputs"),
    (GOOD.replace("type: bind9", "type: bind42"), 16, "unknown backend type"),
    (GOOD.replace("        rndc_port: 953", "        rndc_prot: 953"), 25, "rndc_prot"),
    (GOOD.replace("      port: 5300", "      port: 99999"), 14, "less than or equal"),
    ("- name: x\n  ns_records: [\n", 3, "YAML"),
])
def test_bad_file_names_the_line(bad: str, line: int, words: str) -> None:
    with pytest.raises(PoolFileError) as err:
        load_pools_yaml(bad)
    text = str(err.value)
    assert f"line {line}:" in text and words in text, text


async def test_apply_diff_and_read(service: Service) -> None:
    pools = load_pools_yaml(GOOD)

    async def apply(conn: sa.ext.asyncio.AsyncConnection) -> list[str]:
        return [str(c) for c in await apply_pools(conn, pools)]
    changes = await service.tx(apply)
    assert changes[0].startswith("~ update pool default") and "targets" in changes[0]
    assert changes[1] == "+ create pool second"
    assert await service.tx(apply) == []  # idempotent
    async with service.engine.connect() as conn:
        pool = await read_pool(conn, DEFAULT_POOL_ID)
        shown = await current_pools(conn)
    assert pool is not None and pool.threshold == 50
    assert [(n.host, n.port) for n in pool.nameservers] == [("192.0.2.2", 53), ("192.0.2.3", 5300)]
    assert pool.targets[0].type == "bind9" and pool.targets[0].masters == (("192.0.2.1", 5354),)
    assert shown[1]["catalog_zone"]["catalog_zone_fqdn"] == "cat.second.org."
    # shown output is itself a valid pools file with the same content
    import yaml
    again = load_pools_yaml(yaml.safe_dump(shown))
    assert [p.model_dump() for p in again] == [p.model_dump() for p in load_pools_yaml(
        yaml.safe_dump(shown))]


async def test_ns_records_change_rewrites_zones(service: Service, alice) -> None:  # noqa: ANN001
    zone = await service.create_zone(alice, {"name": "nsr.example.com.", "email": "a@b.com"})
    pools = load_pools_yaml(GOOD)

    async def apply(conn: sa.ext.asyncio.AsyncConnection) -> None:
        await apply_pools(conn, pools)
    await service.tx(apply)
    rs = await service.list_recordsets(alice, zone["id"], _params({"type": "NS"}))
    assert sorted(rs.items[0]["records"]) == ["ns1.example.org.", "ns2.example.org."]
    after = await service.get_zone(alice, zone["id"])
    assert after["serial"] > zone["serial"]


def _params(filters: dict[str, str]):  # noqa: ANN202
    from dnsaas.service.listing import ListParams
    return ListParams(filters=filters)


def test_cli_dry_run_update_show_delete(db_url: str, tmp_path, capsys) -> None:  # noqa: ANN001
    f = tmp_path / "pools.yaml"
    f.write_text(GOOD)
    assert main(["pool", "update", "--database", db_url, "--file", str(f), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+ create pool second" in out and "dry run" in out
    assert main(["pool", "show", "--database", db_url]) == 0
    assert "second" not in capsys.readouterr().out  # nothing applied
    assert main(["pool", "update", "--database", db_url, "--file", str(f)]) == 0
    capsys.readouterr()
    assert main(["pool", "show", "--database", db_url]) == 0
    assert "cat.second.org." in capsys.readouterr().out
    only_default = GOOD[:GOOD.index("- name: second")]
    f.write_text(only_default)
    assert main(["pool", "update", "--database", db_url, "--file", str(f), "--delete"]) == 0
    assert "- delete pool second" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("type: bind9", "type: nope"))
    assert main(["pool", "update", "--database", db_url, "--file", str(bad)]) == 1
    assert "line 16" in capsys.readouterr().err


async def test_delete_refused_while_pool_has_zones(service: Service, admin) -> None:  # noqa: ANN001
    pools = load_pools_yaml(GOOD)

    async def apply(conn: sa.ext.asyncio.AsyncConnection) -> None:
        await apply_pools(conn, pools)
    await service.tx(apply)
    async with service.engine.connect() as conn:
        second = (await conn.execute(sa.select(t.pools.c.id).where(
            t.pools.c.name == "second"))).scalar_one()
    await service.create_zone(admin, {"name": "in2.example.com.", "email": "a@b.com",
                                      "attributes": {"pool_id": second}})
    only_default = load_pools_yaml(GOOD[:GOOD.index("- name: second")])

    async def delete(conn: sa.ext.asyncio.AsyncConnection) -> None:
        await apply_pools(conn, only_default, delete=True)
    with pytest.raises(PoolFileError, match="still has 1 zone"):
        await service.tx(delete)
