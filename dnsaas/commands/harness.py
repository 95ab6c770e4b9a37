"""``dnsaas harness up|down|env``: the whole stack plus a real secondary, for trying things with dig.

``eval "$(dnsaas harness up)"`` sets DNSAAS_URL, DNSAAS_TOKEN and the mdns/secondary ports in
the current shell; the curl and dig lines to paste are printed as comments.
"""

from __future__ import annotations

import argparse
import os
import sys

from dnsaas.harness import DEFAULT_STATE_FILE, SECONDARIES, HarnessError, down, read_state, shell_lines, up


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("harness", help="run the stack + a real secondary nameserver on loopback")
    hsub = p.add_subparsers(dest="harness_command", required=True)
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument("--state", default=os.environ.get("DNSAAS_HARNESS_STATE", DEFAULT_STATE_FILE),
                       help=f"state file (default $DNSAAS_HARNESS_STATE or ./{DEFAULT_STATE_FILE})")
    state.add_argument("--json", action="store_true", help="print the state as JSON")

    u = hsub.add_parser("up", parents=[state], help="start API, mdns, worker and a secondary")
    u.add_argument("--secondary", choices=SECONDARIES, default="bind9",
                   help="secondary nameserver to start and wire through the pool (default bind9)")
    u.add_argument("--postgres", metavar="URL",
                   help="use this PostgreSQL database (postgresql+asyncpg://...) instead of SQLite")
    u.add_argument("--auth", choices=["token", "noauth"], default="token")
    u.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness")
    u.set_defaults(func=_up)

    d = hsub.add_parser("down", parents=[state], help="stop everything `harness up` started")
    d.set_defaults(func=_down)

    e = hsub.add_parser("env", parents=[state], help="print the export lines of the running harness")
    e.set_defaults(func=_env)


def _fail(message: str) -> int:
    print(f"dnsaas harness: {message}", file=sys.stderr)
    return 1


def _up(args: argparse.Namespace) -> int:
    url = args.postgres
    if url and url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://"):]
    if url and not url.startswith("postgresql+asyncpg://"):
        return _fail(f"--postgres {url!r}: expected postgresql+asyncpg://USER@HOST:PORT/DB")
    try:
        info = up(secondary=args.secondary, database_url=url, state_file=args.state, auth=args.auth,
                  timeout=args.timeout)
    except HarnessError as exc:
        return _fail(str(exc))
    print(info.to_json() if args.json else shell_lines(info), end="\n" if args.json else "")
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        info = down(args.state)
    except HarnessError as exc:
        return _fail(str(exc))
    if info is None:
        print("dnsaas harness: nothing running", file=sys.stderr)
        return 0
    print(f"dnsaas harness: stopped pid {info.pid}"
          + (f" and {info.secondary_kind} pid {info.secondary_pid}" if info.secondary_pid else ""),
          file=sys.stderr)
    return 0


def _env(args: argparse.Namespace) -> int:
    try:
        info = read_state(args.state)
    except HarnessError as exc:
        return _fail(str(exc))
    if info is None:
        return _fail("no harness running (start one with `dnsaas harness up`)")
    print(info.to_json() if args.json else shell_lines(info), end="\n" if args.json else "")
    return 0
