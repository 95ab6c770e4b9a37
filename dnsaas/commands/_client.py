"""Shared pieces of the REST client commands: connection options, tables, JSON, progress bars."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from dnsaas.client import Client


def client_options() -> argparse.ArgumentParser:
    """A parent parser with --url, --token, --project, --all-projects, --json, --timeout."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("connection")
    g.add_argument("--url", help="API URL (default $DNSAAS_URL or http://127.0.0.1:9001)")
    g.add_argument("--token", help="API token (default $DNSAAS_TOKEN or $OS_TOKEN)")
    g.add_argument("--project", help="X-Auth-Project-ID (noauth mode)")
    g.add_argument("--all-projects", action="store_true", help="admin: act across projects")
    g.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds (default 30)")
    p.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    return p


def wait_options(p: argparse.ArgumentParser, what: str = "ACTIVE") -> None:
    p.add_argument("--wait", action="store_true", help=f"wait until {what}, with a progress bar")
    p.add_argument("--wait-timeout", type=float, default=120.0, metavar="SECONDS",
                   help="give up waiting after this long (default 120)")


def client_from(args: argparse.Namespace) -> Client:
    return Client(args.url, args.token, project=args.project, all_projects=args.all_projects,
                  timeout=args.timeout)


def write(text: str, out: TextIO | None = None) -> None:
    """Write to stdout; a closed pipe (``| head``) ends the command quietly."""
    try:
        (out or sys.stdout).write(text)
        (out or sys.stdout).flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(141) from None


def print_json(data: Any, out: TextIO | None = None) -> None:
    write(json.dumps(data, indent=2, sort_keys=False) + "\n", out)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value) if value else ""
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], out: TextIO | None = None) -> None:
    """A boxed table like the openstack CLI's; list cells become several lines."""
    lines: list[str] = []
    cells = [[_cell(r.get(c)).splitlines() or [""] for c in columns] for r in rows]
    widths = [max([len(c)] + [len(line) for row in cells for line in row[i]]) for i, c in enumerate(columns)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines += [sep, "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |", sep]
    for row in cells:
        for k in range(max(len(cell) for cell in row)):
            parts = [(cell[k] if k < len(cell) else "").ljust(w) for cell, w in zip(row, widths, strict=True)]
            lines.append("| " + " | ".join(parts) + " |")
    lines.append(sep)
    write("\n".join(lines) + "\n", out)


def print_object(obj: dict[str, Any], out: TextIO | None = None, skip: Sequence[str] = ("links",)) -> None:
    """One object as a Field/Value table."""
    rows = [{"Field": k, "Value": v} for k, v in obj.items() if k not in skip]
    print_table(rows, ["Field", "Value"], out)


def show(args: argparse.Namespace, obj: dict[str, Any] | None) -> None:
    if obj is None:
        return
    if args.json:
        print_json(obj)
    else:
        print_object(obj)


class Progress:
    """A plain-text progress bar on stderr. On a terminal it redraws one line; otherwise it
    prints a line only when the text changes (so logs stay short). ``quiet`` silences it."""

    def __init__(self, label: str, *, width: int = 30, stream: TextIO | None = None,
                 quiet: bool = False) -> None:
        self.label = label
        self.width = width
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = ""
        self._start = time.monotonic()

    def update(self, fraction: float, text: str = "") -> None:
        """Draw ``fraction`` (0..1) of the bar followed by ``text``."""
        if self.quiet:
            return
        fraction = max(0.0, min(1.0, fraction))
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{self.label} [{bar}] {int(fraction * 100):3d}% {text}".rstrip()
        if self.tty:
            self.stream.write("\r" + line.ljust(len(self._last)))
            self.stream.flush()
        elif _strip_time(line) != _strip_time(self._last):
            self.stream.write(line + "\n")
            self.stream.flush()
        self._last = line

    def done(self, text: str = "done") -> None:
        """Fill the bar and end the line."""
        if self.quiet:
            return
        elapsed = time.monotonic() - self._start
        self.update(1.0, f"{text} in {elapsed:.2f} s")
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _strip_time(line: str) -> str:
    """The line without its trailing elapsed time, to tell real changes from ticks."""
    return line.rsplit(" (", 1)[0]


def status_progress(bar: Progress, timeout: float) -> Callable[[dict[str, Any] | None, float], None]:
    """A ``wait_active`` callback that shows the status and elapsed time against ``timeout``."""
    def report(obj: dict[str, Any] | None, elapsed: float) -> None:
        status = "gone" if obj is None else f"{obj.get('status')} {obj.get('action')}"
        # The bar moves quickly at first and slows down, never reaching 100% before done.
        fraction = 0.95 * (1 - 1 / (1 + 4 * elapsed / max(timeout, 0.001)))
        bar.update(fraction, f"{status} ({elapsed:.1f} s)")
    return report
