"""Helpers for the CLI tests: run ``dnsaas`` as a subprocess, a stack started by the harness,
and process-table checks that nothing was left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dnsaas import harness
from dnsaas.harness import StackInfo

DNSAAS = str(Path(sys.executable).with_name("dnsaas"))


def need(condition: bool, what: str) -> None:
    """Skip locally, fail in CI (DNSAAS_REQUIRE_PEERS=1), when ``condition`` is false."""
    if condition:
        return
    if os.environ.get("DNSAAS_REQUIRE_PEERS") == "1":
        pytest.fail(f"missing: {what} (DNSAAS_REQUIRE_PEERS=1)", pytrace=False)
    pytest.skip(f"missing: {what}")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without DNSAAS_*/OS_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DNSAAS_", "OS_"))}
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0,
        stdin: str | None = None, cwd: str | os.PathLike[str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Run ``dnsaas ARGS`` and return the completed process (text)."""
    return subprocess.run([DNSAAS, *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else clean_env(), input=stdin, cwd=cwd)


def stack_env(info: StackInfo) -> dict[str, str]:
    return clean_env(DNSAAS_URL=info.api_url, DNSAAS_TOKEN=info.token or "")


def pids_alive(*pids: int | None) -> list[int]:
    """Those of ``pids`` that are still running (zombies count as gone)."""
    return [p for p in pids if p and harness._alive(p)]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text`` (e.g. a work dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmd and state != "Z":
            found.append(f"{entry.name}: {cmd}")
    return found


@contextmanager
def running_stack(state: Path, secondary: str = "none", database_url: str | None = None
                  ) -> Iterator[StackInfo]:
    """A harness for the duration of the block; stopped (and checked) even on failure."""
    info = harness.up(secondary=secondary, database_url=database_url, state_file=state)
    try:
        yield info
    except BaseException:
        print(f"--- harness log {info.log} ---\n" + harness._tail(Path(info.log), 60))
        raise
    finally:
        harness.down(state)
        assert not pids_alive(info.pid, info.secondary_pid)
        assert not processes_mentioning(info.workdir)
