"""The pytest plugin used the way a downstream project would: a separate ``pytest`` run on a
tiny test file that asks for ``dnsaas_stack``; nothing is left running afterwards, even when the
downstream test fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from clikit import clean_env, need, processes_mentioning

from dnsaas import harness

DOWNSTREAM = '''
import os
from pathlib import Path


def test_without_stack_starts_nothing():
    mine = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and "dnsaas.harness" in (entry / "cmdline").read_text():
                mine.append(entry.name)
        except OSError:
            pass
    assert not mine


def test_record_reaches_the_secondary(dnsaas_stack):
    Path(os.environ["WORKDIR_FILE"]).write_text(dnsaas_stack.info.workdir)
    zone = dnsaas_stack.create_zone("downstream.example.")
    assert zone["status"] == "ACTIVE"
    dnsaas_stack.create_recordset(zone, "www", "A", ["192.0.2.80", "192.0.2.81"])
    assert dnsaas_stack.resolve("www.downstream.example.", "A", at="mdns") == ["192.0.2.80", "192.0.2.81"]
    dnsaas_stack.wait_for_answer("www.downstream.example.", "A", ["192.0.2.80", "192.0.2.81"])
    assert dnsaas_stack.client.get("/v2/zones")["metadata"]["total_count"] == 1
    assert dnsaas_stack.secondary_kind == "bind9" and dnsaas_stack.secondary[1] > 0


def test_failing_downstream_test(dnsaas_stack):
    assert dnsaas_stack.resolve("nothing.downstream.example.", "A") == ["boom"]
'''


def test_downstream_project_uses_dnsaas_stack(tmp_path: Path) -> None:
    need(harness._launcher("bind9").available(), "bind9 binaries")
    project = tmp_path / "downstream"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (project / "test_dns_automation.py").write_text(textwrap.dedent(DOWNSTREAM))
    workdir_file = tmp_path / "workdir.txt"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          "--dnsaas-secondary", "bind9", "-p", "no:randomly"],
                         cwd=project, capture_output=True, text=True, timeout=300,
                         env=clean_env(WORKDIR_FILE=str(workdir_file), PYTHONDONTWRITEBYTECODE="1"))
    out = run.stdout + run.stderr
    assert "1 failed, 2 passed" in out, out
    assert "test_failing_downstream_test" in out and "boom" in out
    workdir = workdir_file.read_text()
    assert workdir and not Path(workdir).exists()
    assert not processes_mentioning(workdir)


def test_plugin_is_registered_and_cheap(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env=clean_env())
    assert "--dnsaas-secondary" in run.stdout and "--dnsaas-postgres" in run.stdout
    probe = subprocess.run([sys.executable, "-c", "import sys, dnsaas.testing.plugin; "
                            "print(','.join(m for m in ('sqlalchemy', 'aiohttp', 'alembic', 'dns', "
                            "'api', 'mdns', 'workers') if m in sys.modules))"],
                           capture_output=True, text=True, timeout=60, env=clean_env())
    assert probe.returncode == 0 and probe.stdout.strip() == "", probe.stdout + probe.stderr
