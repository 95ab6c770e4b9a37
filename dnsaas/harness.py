"""The dig-friendly harness: the whole stack plus a real secondary nameserver, on loopback.

:func:`up` starts a *supervisor* process (``python -m dnsaas.harness run``) in its own session.
The supervisor runs API, mdns and a worker in one asyncio task group (like ``dnsaas serve``) on
free loopback ports, starts the secondary (BIND 9, Knot or PowerDNS, through
:mod:`dnsaas.testing.peers`) as its child (it dies with the supervisor), writes a pools.yaml that
points the default pool at the secondary, applies it, creates an admin token, and then writes a
JSON state file. :func:`down` reads that file, stops the supervisor (SIGTERM, SIGKILL after a
grace period), makes sure the secondary is gone, and removes the work dir and the state file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
SECONDARIES = ("bind9", "knot", "pdns", "none")
DEFAULT_STATE_FILE = ".dnsaas-harness.json"
PROJECT = "demo"

__all__ = ["HarnessError", "StackInfo", "down", "pools_yaml", "read_state", "shell_lines", "up"]


class HarnessError(RuntimeError):
    """The harness could not start or stop; the message is one readable paragraph."""


@dataclass
class StackInfo:
    """Where a running harness listens and what it started (the state file's content)."""

    api_url: str
    token: str | None
    mdns_host: str
    mdns_port: int
    database_url: str
    workdir: str
    pid: int
    secondary_kind: str = "none"
    secondary_host: str | None = None
    secondary_port: int | None = None
    secondary_pid: int | None = None
    log: str = ""
    state_file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mdns(self) -> tuple[str, int]:
        """(host, port) of mdns."""
        return (self.mdns_host, self.mdns_port)

    @property
    def secondary(self) -> tuple[str, int] | None:
        """(host, port) of the secondary nameserver, if one runs."""
        if self.secondary_host is None or self.secondary_port is None:
            return None
        return (self.secondary_host, self.secondary_port)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> StackInfo:
        data = json.loads(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


# --- pools.yaml -------------------------------------------------------------------------------
def pools_yaml(kind: str, secondary: Any, mdns_port: int, pool_id: str) -> str:
    """The default pool served by ``secondary`` (a launcher from dnsaas.testing.peers)."""
    if kind == "bind9":
        opts: dict[str, Any] = {"rndc_host": LOOPBACK, "rndc_port": secondary.rndc_port,
                                "rndc_config_file": str(secondary.rndc_conf)}
    elif kind == "knot":
        opts = {"socket": str(secondary.socket), "template": "secondary"}
    elif kind == "pdns":
        opts = {"api_endpoint": f"http://{LOOPBACK}:{secondary.api_port}", "api_token": secondary.api_key}
    else:
        raise ValueError(f"unknown secondary {kind!r}")
    opts = {"host": LOOPBACK, "port": secondary.port, "timeout": 5, **opts}
    opt_lines = "".join(f"        {k}: {json.dumps(v)}\n" for k, v in opts.items())
    return f"""# written by dnsaas harness: the default pool, served by one {kind} secondary
- name: default
  id: {pool_id}
  description: dnsaas harness pool ({kind})
  ns_records:
    - {{hostname: ns1.example.com., priority: 1}}
  nameservers:
    - {{host: {LOOPBACK}, port: {secondary.port}}}
  targets:
    - type: {kind}
      description: {kind} secondary started by the harness
      masters:
        - {{host: {LOOPBACK}, port: {mdns_port}}}
      options:
{opt_lines}"""


# --- the supervisor ---------------------------------------------------------------------------
def _launcher(kind: str) -> Any:
    from dnsaas.testing.peers import BindServer, KnotServer, PowerDNSServer

    return {"bind9": BindServer, "knot": KnotServer, "pdns": PowerDNSServer}[kind]


async def _supervise(workdir: Path, kind: str, database_url: str | None, state_file: Path,
                     auth: str) -> None:
    from aiohttp import web

    from api.app import create_app
    from dnsaas.commands._common import open_database
    from dnsaas.pools import apply_pools, load_pools_yaml
    from dnsaas.service import Service
    from dnsaas.settings import load_settings
    from mdns.server import MdnsServer
    from workers.worker import Worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    db_url = database_url or f"sqlite+aiosqlite:///{workdir / 'dnsaas.db'}"
    settings = load_settings(database_url=db_url, auth=auth, api_host=LOOPBACK, mdns_host=LOOPBACK,
                             api_port=0, mdns_port=0)
    engine = await open_database(settings, auto_migrate=True, report=lambda line: print(line, flush=True))
    secondary = None
    runner: web.AppRunner | None = None
    try:
        service = Service(engine, settings)
        async with contextlib.AsyncExitStack() as stack:
            mdns = await stack.enter_async_context(MdnsServer(settings, engine, host=LOOPBACK, port=0))
            if kind != "none":
                # The launcher blocks while the daemon starts; mdns has its sockets already.
                secondary = _launcher(kind)(workdir=workdir / kind, primary=(LOOPBACK, mdns.port))
                secondary.start()
                text = pools_yaml(kind, secondary, mdns.port, settings.default_pool_id)
                (workdir / "pools.yaml").write_text(text)
                pools = load_pools_yaml(text)

                async def apply(conn: Any) -> None:
                    await apply_pools(conn, pools, retention=settings.journal_retention)
                await service.tx(apply)
            token = None
            if auth == "token":
                token, _ = await service.create_token(PROJECT, ["member", "admin"], user_id=PROJECT,
                                                      description="dnsaas harness")
            runner = web.AppRunner(create_app(settings, service), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, LOOPBACK, 0)
            await site.start()
            api_port = int(runner.addresses[0][1])
            await stack.enter_async_context(Worker(service, settings))
            info = StackInfo(
                api_url=f"http://{LOOPBACK}:{api_port}", token=token, mdns_host=LOOPBACK,
                mdns_port=mdns.port, database_url=db_url, workdir=str(workdir), pid=os.getpid(),
                secondary_kind=kind, log=str(workdir / "harness.log"), state_file=str(state_file))
            if secondary is not None:
                info.secondary_host, info.secondary_port = secondary.endpoint
                info.secondary_pid = secondary.pid
                info.extra["secondary_workdir"] = str(secondary.workdir)
            tmp = state_file.with_name(state_file.name + ".tmp")
            tmp.write_text(info.to_json())
            tmp.replace(state_file)
            print(f"harness ready: {info.api_url}", flush=True)
            await stop.wait()
            print("harness stopping", flush=True)
            await runner.cleanup()
            runner = None
    finally:
        if runner is not None:
            await runner.cleanup()
        if secondary is not None:
            secondary.stop()
        await engine.dispose()
        print("harness stopped", flush=True)


def _run_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m dnsaas.harness run")
    p.add_argument("--workdir", required=True)
    p.add_argument("--secondary", choices=SECONDARIES, default="bind9")
    p.add_argument("--database")
    p.add_argument("--state", required=True)
    p.add_argument("--auth", choices=["token", "noauth"], default="token")
    args = p.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_supervise(Path(args.workdir), args.secondary, args.database, Path(args.state), args.auth))
    return 0


# --- up / down --------------------------------------------------------------------------------
def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_state(state_file: str | os.PathLike[str]) -> StackInfo | None:
    """The state of a harness started with this state file, or None if there is none."""
    path = Path(state_file)
    try:
        return StackInfo.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise HarnessError(f"{path} is not a harness state file: {exc}") from None


def _secondary_available(kind: str) -> None:
    if kind == "none":
        return
    launcher = _launcher(kind)
    if not launcher.available():
        from dnsaas.testing.peers import find_binary

        missing = [b for b in launcher.binaries if find_binary(b) is None] or ["its files"]
        raise HarnessError(f"secondary {kind} is not installed (missing {', '.join(missing)}); "
                           "install it or pick another with --secondary")


def up(*, secondary: str = "bind9", database_url: str | None = None,
       state_file: str | os.PathLike[str] = DEFAULT_STATE_FILE, auth: str = "token",
       timeout: float = 60.0, workdir: str | os.PathLike[str] | None = None) -> StackInfo:
    """Start a harness in the background and return where it listens (blocks until ready)."""
    if secondary not in SECONDARIES:
        raise HarnessError(f"unknown secondary {secondary!r}: pick one of {', '.join(SECONDARIES)}")
    state = Path(state_file).resolve()
    old = read_state(state)
    if old is not None:
        if _alive(old.pid):
            raise HarnessError(f"a harness is already running (pid {old.pid}, state {state}); "
                               "run `dnsaas harness down` first")
        _cleanup(old, state)
    _secondary_available(secondary)
    state.parent.mkdir(parents=True, exist_ok=True)
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="dnsaas-harness-"))
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "harness.log"
    argv = [sys.executable, "-m", "dnsaas.harness", "run", "--workdir", str(work),
            "--secondary", secondary, "--state", str(state), "--auth", auth]
    if database_url:
        argv += ["--database", database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSAAS_")}
    env["PYTHONUNBUFFERED"] = "1"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=work, env=env, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        info = read_state(state) if state.exists() else None
        if info is not None and info.pid == proc.pid:
            return info
        rc = proc.poll()
        if rc is not None or time.monotonic() > deadline:
            if rc is None:
                proc.kill()
                proc.wait()
            tail = _tail(log_path)
            shutil.rmtree(work, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                state.unlink()
            why = f"exited with status {rc}" if rc is not None else f"was not ready after {timeout:g} s"
            raise HarnessError(f"the harness {why}; its log ends with:\n{tail}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _terminate(pid: int | None, grace: float, must_match: str | None = None) -> bool:
    """SIGTERM ``pid``, SIGKILL after ``grace`` seconds; True if it is gone afterwards."""
    if not _alive(pid):
        return True
    assert pid is not None
    if must_match and must_match not in _cmdline(pid):
        return True  # the pid was reused by something else: not ours to kill
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.02)
    return not _alive(pid)


def _processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmd and state != "Z":
            found.append(int(entry.name))
    return found


def _reap_stragglers(workdir: str, timeout: float = 5.0) -> list[int]:
    """Wait for helpers of the stack (e.g. the import parser's forkserver, which exits a moment
    after its parent) to go; SIGKILL what is left after ``timeout``. Returns survivors."""
    deadline = time.monotonic() + timeout
    while (pids := _processes_mentioning(workdir)) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 2.0
    while (pids := _processes_mentioning(workdir)) and time.monotonic() < end:
        time.sleep(0.02)
    return pids


def _cleanup(info: StackInfo, state: Path, grace: float = 15.0) -> list[str]:
    problems = []
    if not _terminate(info.pid, grace, must_match="dnsaas.harness"):
        problems.append(f"supervisor pid {info.pid} did not exit")
    secondary_dir = str(info.extra.get("secondary_workdir") or info.workdir)
    if info.secondary_pid and not _terminate(info.secondary_pid, 5.0, must_match=secondary_dir):
        problems.append(f"secondary pid {info.secondary_pid} did not exit")
    if info.workdir:
        leftover = _reap_stragglers(str(info.workdir))
        if leftover:
            problems.append(f"processes did not exit: {', '.join(map(str, leftover))}")
    if info.workdir and Path(info.workdir).name.startswith("dnsaas-harness-"):
        shutil.rmtree(info.workdir, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        state.unlink()
    return problems


def down(state_file: str | os.PathLike[str] = DEFAULT_STATE_FILE, grace: float = 15.0) -> StackInfo | None:
    """Stop the harness recorded in ``state_file``; returns its info (None if none was running)."""
    state = Path(state_file).resolve()
    info = read_state(state)
    if info is None:
        return None
    problems = _cleanup(info, state, grace)
    if problems:
        raise HarnessError("; ".join(problems))
    return info


# --- what to print ----------------------------------------------------------------------------
def shell_lines(info: StackInfo) -> str:
    """``export`` lines (eval-able) followed by commented, ready-to-paste curl and dig lines."""
    out = [f"export DNSAAS_URL={info.api_url}"]
    if info.token:
        out.append(f"export DNSAAS_TOKEN={info.token}")
    out.append(f"export DNSAAS_HARNESS_MDNS_PORT={info.mdns_port}")
    if info.secondary_port:
        out.append(f"export DNSAAS_HARNESS_SECONDARY_PORT={info.secondary_port}")
    auth = f"X-Auth-Token: {info.token}" if info.token else f"X-Auth-Project-ID: {PROJECT}"
    lines = [
        f"dnsaas harness: API {info.api_url}/v2, mdns {info.mdns_host}:{info.mdns_port}"
        + (f", {info.secondary_kind} secondary {info.secondary_host}:{info.secondary_port}"
           if info.secondary_port else "") + f" (pid {info.pid}, dir {info.workdir})",
        "try:",
        f"  curl -s -H '{auth}' -H 'Content-Type: application/json' \\",
        "       -d '{\"name\": \"example.org.\", \"email\": \"admin@example.org\"}' "
        f"{info.api_url}/v2/zones",
        "  dnsaas zone create example.org. --wait",
        "  dnsaas recordset create example.org. www --type A --record 192.0.2.10 --wait",
        f"  dig @{info.mdns_host} -p {info.mdns_port} example.org. AXFR",
    ]
    if info.secondary_port:
        lines.append(f"  dig @{info.secondary_host} -p {info.secondary_port} www.example.org. A")
    lines.append("stop it with: dnsaas harness down")
    return "\n".join(out + ["# " + line for line in lines]) + "\n"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        sys.exit(_run_main(sys.argv[2:]))
    print("usage: python -m dnsaas.harness run ... (use `dnsaas harness up`)", file=sys.stderr)
    sys.exit(2)
