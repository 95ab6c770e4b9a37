"""``dnsaas harness up`` with each real secondary, a record created through the CLI and seen with
dig at the secondary, ``harness down`` leaving no process behind; ``dnsaas serve`` start/stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from clikit import DNSAAS, clean_env, cli, need, pids_alive, processes_mentioning

from dnsaas import harness
from dnsaas.testing.peers import find_binary
from dnsaas.testing.ports import free_port

pytestmark = pytest.mark.peers


def exports(text: str) -> dict[str, str]:
    """The variables of the ``export K=V`` lines in ``text``."""
    return dict(line[len("export "):].split("=", 1) for line in text.splitlines()
                if line.startswith("export "))


def dig(port: int, name: str, rdtype: str) -> list[str]:
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+norec", "+short", "+time=1",
                          "+tries=1", name, rdtype], capture_output=True, text=True, timeout=10)
    return sorted(out.stdout.split())


def wait_dig(port: int, name: str, rdtype: str, want: list[str], limit: float = 15.0) -> list[str]:
    deadline = time.monotonic() + limit
    got: list[str] = []
    while time.monotonic() < deadline:
        got = dig(port, name, rdtype)
        if got == sorted(want):
            return got
        time.sleep(0.05)
    raise AssertionError(f"{name} {rdtype} at port {port}: {got}, wanted {want}")


@pytest.mark.parametrize("kind", ["bind9", "knot", "pdns"])
def test_harness_up_record_dig_down(kind: str, tmp_path: Path) -> None:
    need(harness._launcher(kind).available(), f"{kind} binaries")
    need(find_binary("dig") is not None, "dig")
    state = tmp_path / "harness.json"
    try:
        up = cli("harness", "up", "--secondary", kind, "--state", str(state), timeout=120)
        assert up.returncode == 0, up.stderr
        env_vars = exports(up.stdout)
        assert set(env_vars) >= {"DNSAAS_URL", "DNSAAS_TOKEN", "DNSAAS_HARNESS_MDNS_PORT",
                                 "DNSAAS_HARNESS_SECONDARY_PORT"}
        assert "# try:" in up.stdout and "dig @127.0.0.1 -p" in up.stdout and "curl -s" in up.stdout
        info = harness.read_state(state)
        assert info is not None and pids_alive(info.pid, info.secondary_pid) == [info.pid, info.secondary_pid]
        assert (Path(info.workdir) / "pools.yaml").read_text().count(f"type: {kind}") == 1

        env = clean_env(**env_vars)
        assert cli("zone", "create", "harness.example.", "--wait", env=env).returncode == 0
        rs = cli("recordset", "create", "harness.example.", "www", "--type", "A", "--record",
                 "192.0.2.44", "--wait", env=env)
        assert rs.returncode == 0, rs.stderr
        secondary = int(env_vars["DNSAAS_HARNESS_SECONDARY_PORT"])
        mdns = int(env_vars["DNSAAS_HARNESS_MDNS_PORT"])
        assert dig(mdns, "www.harness.example.", "A") == ["192.0.2.44"]
        wait_dig(secondary, "www.harness.example.", "A", ["192.0.2.44"])

        again = cli("harness", "up", "--secondary", kind, "--state", str(state))
        assert again.returncode == 1 and "already running" in again.stderr

        down = cli("harness", "down", "--state", str(state))
        assert down.returncode == 0, down.stderr
        assert not pids_alive(info.pid, info.secondary_pid)
        assert not processes_mentioning(info.workdir)
        assert not state.exists() and not Path(info.workdir).exists()
        assert "192.0.2.44" not in dig(secondary, "www.harness.example.", "A")  # nobody answers
    finally:
        harness.down(state)


def test_harness_down_without_harness_and_missing_secondary(tmp_path: Path) -> None:
    down = cli("harness", "down", "--state", str(tmp_path / "none.json"))
    assert down.returncode == 0 and "nothing running" in down.stderr
    env = cli("harness", "env", "--state", str(tmp_path / "none.json"))
    assert env.returncode == 1 and "no harness running" in env.stderr


def test_harness_survives_a_killed_supervisor(tmp_path: Path) -> None:
    """kill -9 of the supervisor takes the secondary with it; down then cleans up the rest."""
    need(harness._launcher("bind9").available(), "bind9 binaries")
    state = tmp_path / "h.json"
    info = harness.up(secondary="bind9", state_file=state)
    try:
        os.kill(info.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pids_alive(info.pid, info.secondary_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pids_alive(info.secondary_pid), "the secondary outlived its supervisor"
        restarted = harness.up(secondary="none", state_file=state)  # stale state is replaced
        assert restarted.pid != info.pid
    finally:
        harness.down(state)
    assert not processes_mentioning(info.workdir)


def _busy_socket(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def test_serve_says_which_port_is_taken(tmp_path: Path) -> None:
    api, mdns = free_port(), free_port()
    with _busy_socket(api):
        result = cli("serve", "--api-port", str(api), "--mdns-port", str(mdns), "--database",
                     f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", cwd=tmp_path, timeout=30)
    assert result.returncode == 1
    assert f"127.0.0.1:{api}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_starts_and_stops_on_sigint(tmp_path: Path) -> None:
    api, mdns = free_port(), free_port()
    proc = subprocess.Popen([DNSAAS, "serve", "--api-port", str(api), "--mdns-port", str(mdns)],
                            cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            lines.append(line)
            if "dig @127.0.0.1" in line or time.monotonic() > deadline:
                break
        banner = "".join(lines)
        assert f"http://127.0.0.1:{api}/v2" in banner and "X-Auth-Token: dnsaas_" in banner
        token = banner.split("X-Auth-Token: ")[1].split("'")[0]
        env = clean_env(DNSAAS_URL=f"http://127.0.0.1:{api}", DNSAAS_TOKEN=token)
        assert cli("zone", "create", "serve.example.", "--wait", env=env).returncode == 0
        axfr = subprocess.run(["dig", "@127.0.0.1", "-p", str(mdns), "serve.example.", "AXFR", "+short"],
                              capture_output=True, text=True, timeout=10).stdout
        assert "hostmaster.serve.example." in axfr
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode in (0, 130) and "stopped" in rest
        assert (tmp_path / "dnsaas.db").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
