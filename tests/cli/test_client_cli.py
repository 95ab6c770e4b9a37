"""``dnsaas zone`` / ``dnsaas recordset`` as subprocesses against a running stack (the harness
without a secondary), on SQLite and PostgreSQL; bad input gives one line on stderr, exit 1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import DNSAAS, clean_env, cli, need, running_stack, stack_env

from dnsaas.harness import StackInfo
from dnsaas.testing.databases import DatabaseFactory
from dnsaas.testing.ports import free_port


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, db_factory: DatabaseFactory, pg_ok: bool,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    url = None
    if request.param == "postgresql":
        need(pg_ok, "PostgreSQL")
        url = db_factory.postgres()
    with running_stack(tmp_path_factory.mktemp("cli") / "state.json", database_url=url) as info:
        yield info


def ok(info: StackInfo, *args: str) -> str:
    result = cli(*args, env=stack_env(info))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def fails(info: StackInfo | None, *args: str, env: dict[str, str] | None = None) -> str:
    result = cli(*args, env=env if env is not None else stack_env(info) if info else clean_env())
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_zone_and_recordset_lifecycle(stack: StackInfo) -> None:
    zone = json.loads(ok(stack, "zone", "create", "life.example.", "--wait", "--json"))
    assert zone["name"] == "life.example." and zone["status"] == "ACTIVE"
    assert zone["email"] == "hostmaster@life.example"

    table = ok(stack, "zone", "list")
    assert "life.example." in table and "ACTIVE" in table and table.startswith("+")
    assert json.loads(ok(stack, "zone", "show", "life.example", "--json"))["id"] == zone["id"]
    assert json.loads(ok(stack, "zone", "show", zone["id"], "--json"))["name"] == "life.example."

    updated = json.loads(ok(stack, "zone", "update", "life.example.", "--ttl", "600", "--wait", "--json"))
    assert updated["ttl"] == 600 and updated["status"] == "ACTIVE" and updated["serial"] > zone["serial"]

    rs = json.loads(ok(stack, "recordset", "create", "life.example.", "www", "--type", "a",
                       "--record", "192.0.2.1", "--record", "192.0.2.2", "--wait", "--json"))
    assert rs["name"] == "www.life.example." and rs["type"] == "A" and rs["status"] == "ACTIVE"
    assert sorted(rs["records"]) == ["192.0.2.1", "192.0.2.2"]

    listed = json.loads(ok(stack, "recordset", "list", "life.example.", "--json"))
    assert {(r["name"], r["type"]) for r in listed} == {
        ("life.example.", "SOA"), ("life.example.", "NS"), ("www.life.example.", "A")}
    assert "www.life.example." in ok(stack, "recordset", "list", "--type", "A")
    shown = json.loads(ok(stack, "recordset", "show", "life.example.", "www.life.example.", "--json"))
    assert shown["id"] == rs["id"]

    changed = json.loads(ok(stack, "recordset", "update", zone["id"], "www", "--record", "192.0.2.9",
                            "--ttl", "300", "--wait", "--json"))
    assert changed["records"] == ["192.0.2.9"] and changed["ttl"] == 300 and changed["status"] == "ACTIVE"

    out = ok(stack, "recordset", "delete", "life.example.", rs["id"], "--wait")
    assert "deleted" in out
    assert "not found" in fails(stack, "recordset", "show", "life.example.", "www", "--type", "A")

    assert "deleted" in ok(stack, "zone", "delete", "life.example.", "--wait")
    assert fails(stack, "zone", "show", "life.example.") == "dnsaas: zone life.example. not found"


def test_wait_prints_a_progress_bar(stack: StackInfo) -> None:
    result = cli("zone", "create", "bar.example.", "--wait", env=stack_env(stack))
    assert result.returncode == 0, result.stderr
    assert "waiting for zone bar.example." in result.stderr and "100%" in result.stderr
    assert "| status" in result.stdout and "ACTIVE" in result.stdout


def test_pipe_closed_early_is_quiet(stack: StackInfo) -> None:
    ok(stack, "zone", "create", "pipe.example.")
    proc = subprocess.run(f"{DNSAAS} zone list --json | head -c 1", shell=True, capture_output=True,
                          text=True, env=stack_env(stack), timeout=60)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_bad_input_is_one_line(stack: StackInfo) -> None:
    assert fails(stack, "zone", "show", "nope.example.") == "dnsaas: zone nope.example. not found"
    assert "not found" in fails(stack, "zone", "show", "6c9d1f5e-0000-4000-8000-000000000000")
    assert "not found" in fails(stack, "recordset", "list", "nope.example.")

    line = fails(stack, "zone", "list", env=clean_env(DNSAAS_URL=stack.api_url, DNSAAS_TOKEN="bogus"))
    assert "401" in line and "token" in line
    assert "no token" in fails(stack, "zone", "list", env=clean_env(DNSAAS_URL=stack.api_url))
    # OS_TOKEN is honoured like DNSAAS_TOKEN
    assert cli("zone", "list", env=clean_env(DNSAAS_URL=stack.api_url, OS_TOKEN=stack.token or "")
               ).returncode == 0

    refused = fails(None, "zone", "list", "--url", f"http://127.0.0.1:{free_port()}", "--token", "x")
    assert "connection refused" in refused
    assert "invalid API URL" in fails(None, "zone", "list", "--url", "not a url")
    assert "invalid API URL" in fails(None, "zone", "list", "--url", "http://127.0.0.1:99999")

    bad = fails(stack, "zone", "create", "bad..example.")
    assert bad.startswith("dnsaas: create zone bad..example. failed (400 invalid_object")
    ok(stack, "zone", "create", "dup.example.")
    assert "409 duplicate_zone" in fails(stack, "zone", "create", "dup.example.")
    record = fails(stack, "recordset", "create", "dup.example.", "mx", "--type", "MX", "--record", "oops")
    assert "is not a 'MX' Record" in record
    assert "nothing to update" in fails(stack, "zone", "update", "dup.example.")


def test_import_export_roundtrip(stack: StackInfo, tmp_path: Path) -> None:
    probe = cli("zone", "list", "--json", env=stack_env(stack))
    assert probe.returncode == 0
    from dnsaas.client import Client, ClientError
    try:
        Client(stack.api_url, stack.token).get("/v2/zones/tasks/imports")
    except ClientError as exc:
        if exc.status in (404, 405):
            pytest.skip("zone import/export endpoints are not in the API yet")
        raise
    zonefile = tmp_path / "imp.example.zone"
    zonefile.write_text("""$ORIGIN imp.example.
$TTL 3600
imp.example. IN SOA ns1.imp.example. admin.imp.example. 1 3600 600 86400 3600
imp.example. IN NS ns1.example.com.
www IN A 192.0.2.7
mail 600 IN MX 10 mx.imp.example.
""")
    result = cli("zone", "import", str(zonefile), "--wait", env=stack_env(stack))
    assert result.returncode == 0, result.stderr
    assert "importing" in result.stderr and "100%" in result.stderr
    zone = json.loads(ok(stack, "zone", "show", "imp.example.", "--json"))
    assert zone["status"] == "ACTIVE"
    exported = ok(stack, "zone", "export", "imp.example.")
    assert "$ORIGIN imp.example." in exported
    assert "192.0.2.7" in exported and "MX" in exported
    out = tmp_path / "out.zone"
    ok(stack, "zone", "export", "imp.example.", "-o", str(out))
    assert out.read_text() == exported
    assert "cannot read" in fails(stack, "zone", "import", str(tmp_path / "missing.zone"))
