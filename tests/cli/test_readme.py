"""README.md cannot rot: the walk-through's shell blocks are run as written, and the
configuration table equals ``dnsaas config reference``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from clikit import clean_env, need, processes_mentioning

from dnsaas import harness
from dnsaas.commands.config import readme_table, reference_table
from dnsaas.testing.peers import find_binary

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def walkthrough_script(text: str) -> str:
    """The ```sh blocks between the walkthrough markers, in order."""
    section = re.search(r"<!-- walkthrough:start -->(.*?)<!-- walkthrough:end -->", text, re.S)
    assert section, "README.md lost its walkthrough markers"
    blocks = re.findall(r"```sh\n(.*?)```", section.group(1), re.S)
    assert len(blocks) >= 4
    return "\n".join(blocks)


@pytest.mark.peers
def test_walkthrough_runs_as_written(tmp_path: Path) -> None:
    need(harness._launcher("bind9").available(), "bind9 binaries")
    need(find_binary("dig") is not None and find_binary("curl") is not None, "dig and curl")
    need((ROOT / ".venv" / "bin" / "dnsaas").exists(), "the repository's .venv")
    state = tmp_path / "harness.json"
    script = "set -euo pipefail\n" + walkthrough_script(README.read_text())
    try:
        run = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env=clean_env(DNSAAS_HARNESS_STATE=str(state)))
        out = run.stdout
        if run.returncode != 0:
            info = harness.read_state(state)
            log = harness._tail(Path(info.log), 80) if info else "(no harness)"
            pytest.fail(f"walk-through failed ({run.returncode}):\n{out}\n{run.stderr}\n"
                        f"--- harness log ---\n{log}")
        assert '"status": "PENDING"' in out                     # curl's answer
        assert "waiting for zone example.org." in run.stderr     # the progress bar
        assert re.search(r"^www\.example\.org\.\s+3600\s+IN\s+A\s+192\.0\.2\.10$", out, re.M)  # AXFR
        assert re.search(r"^192\.0\.2\.10$", out, re.M)          # BIND, first answer
        assert re.search(r"^192\.0\.2\.20$", out, re.M)          # BIND, after the update
        assert "$ORIGIN example.org." in out                     # the export
        assert "stopped pid" in run.stderr and not state.exists()
    finally:
        info = harness.read_state(state)
        harness.down(state)
    if info is not None:
        assert not processes_mentioning(info.workdir)


def test_quick_start_is_two_commands() -> None:
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in quick.strip().splitlines()] == ["make serve", "make test"]


def test_configuration_table_is_generated_from_settings() -> None:
    table = readme_table(README.read_text())
    assert table is not None, "README.md lost its config-reference markers"
    assert table == reference_table(), "run: dnsaas config reference --update-readme README.md"


def test_config_reference_command(tmp_path: Path) -> None:
    from clikit import cli

    out = cli("config", "reference")
    assert out.returncode == 0 and out.stdout == reference_table()
    assert "`DNSAAS_QUOTAS__ZONES`" in out.stdout and "`DNSAAS_DATABASE_URL`" in out.stdout
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- config-reference:start -->\nold\n<!-- config-reference:end -->\nend\n")
    assert cli("config", "reference", "--update-readme", str(doc)).returncode == 0
    assert readme_table(doc.read_text()) == reference_table() and doc.read_text().endswith("end\n")
    (tmp_path / "none.md").write_text("no markers")
    assert cli("config", "reference", "--update-readme", str(tmp_path / "none.md")).returncode == 1
