"""``dnsaas config reference``: the configuration reference, generated from the settings model.

README.md holds the same table between ``<!-- config-reference:start -->`` and
``<!-- config-reference:end -->``; a test keeps the two equal (regenerate with
``dnsaas config reference --update-readme README.md``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="configuration helpers")
    csub = p.add_subparsers(dest="config_command", required=True)
    ref = csub.add_parser("reference", help="print every setting as a Markdown table")
    ref.add_argument("--update-readme", metavar="FILE",
                     help="replace the table between the config-reference markers in FILE")
    ref.set_defaults(func=_reference)


def _default(field: Any) -> Any:
    if field.default_factory is not None:
        return field.default_factory()
    return field.default


def _render(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    if hasattr(value, "model_dump"):
        return f"`{json.dumps(value.model_dump())}`"
    return f"`{value}`"


def reference_rows() -> list[tuple[str, str, str]]:
    """(variable, meaning, default) for every setting; nested models become ``A__B`` rows."""
    from pydantic import BaseModel

    from dnsaas.settings import Settings

    rows: list[tuple[str, str, str]] = []
    for name, field in Settings.model_fields.items():
        env = f"DNSAAS_{name.upper()}"
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            default = _default(field)
            for sub, sub_field in kind.model_fields.items():
                meaning = sub_field.description or f"{field.description or name}: {sub.replace('_', ' ')}"
                rows.append((f"{env}__{sub.upper()}", meaning, _render(getattr(default, sub))))
            continue
        meaning = field.description or name.replace("_", " ")
        if name == "config":
            meaning += " (the file uses the same keys, lower case)"
        rows.append((env, meaning, _render(_default(field))))
    return rows


def reference_table() -> str:
    """The Markdown table of :func:`reference_rows`."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for env, meaning, default in reference_rows():
        escaped = meaning.replace("|", "\\|")
        lines.append(f"| `{env}` | {escaped} | {default} |")
    return "\n".join(lines) + "\n"


def readme_table(text: str) -> str | None:
    """The table between the markers in README text (None if the markers are missing)."""
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), text, re.S)
    return match.group(1) if match else None


def _reference(args: argparse.Namespace) -> int:
    table = reference_table()
    if not args.update_readme:
        sys.stdout.write(table)
        return 0
    path = Path(args.update_readme)
    text = path.read_text()
    if readme_table(text) is None:
        print(f"dnsaas: {path} has no {START} ... {END} markers", file=sys.stderr)
        return 1
    new = re.sub(re.escape(START) + r"\n.*?" + re.escape(END), lambda _m: f"{START}\n{table}{END}", text,
                 flags=re.S)
    path.write_text(new)
    print(f"updated {path}", file=sys.stderr)
    return 0
