"""``dnsaas zone create|list|show|update|delete|import|export``: zones through the REST API."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from dnsaas.client import Client, ClientError, fqdn
from dnsaas.commands._client import (
    Progress,
    client_from,
    client_options,
    print_json,
    print_table,
    show,
    status_progress,
    wait_options,
    write,
)

LIST_COLUMNS = ["id", "name", "type", "serial", "status", "action"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = client_options()
    p = sub.add_parser("zone", help="zones (REST client)")
    zsub = p.add_subparsers(dest="zone_command", required=True)

    c = zsub.add_parser("create", parents=[common], help="create a zone")
    c.add_argument("name", help="zone name, e.g. example.org.")
    c.add_argument("--email", help="SOA email (PRIMARY zones; default hostmaster@NAME)")
    c.add_argument("--ttl", type=int, help="default TTL")
    c.add_argument("--description")
    c.add_argument("--type", choices=["PRIMARY", "SECONDARY"], default="PRIMARY", type=str.upper)
    c.add_argument("--masters", nargs="+", metavar="HOST[:PORT]", help="primaries of a SECONDARY zone")
    c.add_argument("--attribute", action="append", default=[], metavar="KEY=VALUE",
                   help="scheduler attribute (repeatable)")
    wait_options(c)
    c.set_defaults(func=_create)

    ls = zsub.add_parser("list", parents=[common], help="list zones")
    ls.add_argument("--name", help="filter by name (* is a wildcard)")
    ls.add_argument("--status", help="filter by status")
    ls.add_argument("--type", help="filter by type")
    ls.add_argument("--limit", type=int, help="at most this many zones")
    ls.set_defaults(func=_list)

    sh = zsub.add_parser("show", parents=[common], help="show one zone")
    sh.add_argument("zone", help="zone name or id")
    sh.set_defaults(func=_show)

    up = zsub.add_parser("update", parents=[common], help="change a zone")
    up.add_argument("zone", help="zone name or id")
    up.add_argument("--email")
    up.add_argument("--ttl", type=int)
    up.add_argument("--description")
    up.add_argument("--masters", nargs="+", metavar="HOST[:PORT]")
    wait_options(up)
    up.set_defaults(func=_update)

    de = zsub.add_parser("delete", parents=[common], help="delete a zone")
    de.add_argument("zone", help="zone name or id")
    wait_options(de, "the zone is gone")
    de.set_defaults(func=_delete)

    wa = zsub.add_parser("wait", parents=[common], help="wait until a zone is ACTIVE (progress bar)")
    wa.add_argument("zone", help="zone name or id")
    wa.add_argument("--wait-timeout", type=float, default=120.0, metavar="SECONDS")
    wa.set_defaults(func=_wait_cmd)

    im = zsub.add_parser("import", parents=[common], help="import a zone file (text/dns)")
    im.add_argument("file", help="zone file with $ORIGIN and an SOA ('-' for stdin)")
    wait_options(im, "the imported zone is ACTIVE")
    im.set_defaults(func=_import)

    ex = zsub.add_parser("export", parents=[common], help="export a zone as a zone file")
    ex.add_argument("zone", help="zone name or id")
    ex.add_argument("-o", "--output", help="write to this file instead of stdout")
    ex.add_argument("--wait-timeout", type=float, default=120.0, metavar="SECONDS")
    ex.set_defaults(func=_export)


def _wait_zone(client: Client, args: argparse.Namespace, zone: dict[str, Any],
               *, gone: bool = False) -> dict[str, Any] | None:
    label = f"zone {zone['name']}"
    bar = Progress(f"waiting for {label}", quiet=args.json and not sys.stderr.isatty())
    result = client.wait_active(lambda: client.get(f"/v2/zones/{zone['id']}", what=label), label,
                                args.wait_timeout, status_progress(bar, args.wait_timeout),
                                gone_ok=gone)
    bar.done("deleted" if gone else "ACTIVE")
    return result


def _create(args: argparse.Namespace) -> int:
    client = client_from(args)
    name = fqdn(args.name)
    body: dict[str, Any] = {"name": name, "type": args.type}
    if args.type == "PRIMARY":
        body["email"] = args.email or f"hostmaster@{name.rstrip('.')}"
    if args.ttl is not None:
        body["ttl"] = args.ttl
    if args.description is not None:
        body["description"] = args.description
    if args.masters:
        body["masters"] = args.masters
    if args.attribute:
        body["attributes"] = dict(_key_value(a) for a in args.attribute)
    zone = client.request("POST", "/v2/zones", body, what=f"create zone {name}").body
    if args.wait:
        zone = _wait_zone(client, args, zone) or zone
    show(args, zone)
    return 0


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ClientError(f"--attribute {text!r}: expected KEY=VALUE")
    return key, value


def _list(args: argparse.Namespace) -> int:
    client = client_from(args)
    query = {"name": args.name and fqdn(args.name) if args.name and "*" not in args.name else args.name,
             "status": args.status and args.status.upper(), "type": args.type and args.type.upper()}
    zones = list(client.paged("/v2/zones", "zones", {k: v for k, v in query.items() if v}, args.limit))
    if args.json:
        print_json(zones)
    else:
        print_table(zones, LIST_COLUMNS)
    return 0


def _show(args: argparse.Namespace) -> int:
    show(args, client_from(args).find_zone(args.zone))
    return 0


def _update(args: argparse.Namespace) -> int:
    client = client_from(args)
    zone = client.find_zone(args.zone)
    body = {k: v for k, v in (("email", args.email), ("ttl", args.ttl),
                              ("description", args.description), ("masters", args.masters))
            if v is not None}
    if not body:
        raise ClientError("nothing to update: give --email, --ttl, --description or --masters")
    zone = client.request("PATCH", f"/v2/zones/{zone['id']}", body,
                          what=f"update zone {zone['name']}").body
    if args.wait:
        zone = _wait_zone(client, args, zone) or zone
    show(args, zone)
    return 0


def _wait_cmd(args: argparse.Namespace) -> int:
    client = client_from(args)
    show(args, _wait_zone(client, args, client.find_zone(args.zone)))
    return 0


def _delete(args: argparse.Namespace) -> int:
    client = client_from(args)
    zone = client.find_zone(args.zone)
    deleted = client.request("DELETE", f"/v2/zones/{zone['id']}", what=f"delete zone {zone['name']}").body
    if args.wait:
        _wait_zone(client, args, zone, gone=True)
    if args.json:
        print_json(deleted)
    else:
        print(f"zone {zone['name']} ({zone['id']}) "
              + ("deleted" if args.wait else "is being deleted"))
    return 0


def _import(args: argparse.Namespace) -> int:
    client = client_from(args)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    except OSError as exc:
        raise ClientError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    stages = 3 if args.wait else 2
    bar = Progress(f"importing {args.file}", quiet=args.json and not sys.stderr.isatty())
    bar.update(0.0, f"uploading {len(text.encode())} bytes")
    task = client.request("POST", "/v2/zones/tasks/imports", text, content_type="text/dns",
                          what=f"import {args.file}").body
    bar.update(1 / stages, "uploaded, PENDING")
    deadline = time.monotonic() + args.wait_timeout
    delay = 0.02
    while task.get("status") == "PENDING":
        if time.monotonic() > deadline:
            raise ClientError(f"import {task['id']} still PENDING after {args.wait_timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
        task = client.get(f"/v2/zones/tasks/imports/{task['id']}", what="import status")
    if task.get("status") != "COMPLETE":
        raise ClientError(f"import failed: {task.get('message') or task.get('status')}")
    result: dict[str, Any] = task
    if args.wait and task.get("zone_id"):
        bar.update(2 / stages, f"{task.get('message')}, propagating")
        zone = client.get(f"/v2/zones/{task['zone_id']}")

        def report(obj: dict[str, Any] | None, elapsed: float) -> None:
            share = 0.95 * (1 - 1 / (1 + 4 * elapsed / max(args.wait_timeout, 0.001)))
            bar.update((2 + share) / stages, f"{obj and obj.get('status')} ({elapsed:.1f} s)")
        zone = client.wait_active(lambda: client.get(f"/v2/zones/{task['zone_id']}"),
                                  f"zone {zone['name']}", args.wait_timeout, report)
        result = {**task, "zone": zone}
    bar.done(str(task.get("message") or "imported"))
    if args.json:
        print_json(result)
    else:
        print(f"{task.get('message') or 'imported'}: zone id {task.get('zone_id')}")
    return 0


def _export(args: argparse.Namespace) -> int:
    client = client_from(args)
    zone = client.find_zone(args.zone)
    task = client.request("POST", f"/v2/zones/{zone['id']}/tasks/export", {},
                          what=f"export zone {zone['name']}").body
    deadline = time.monotonic() + args.wait_timeout
    delay = 0.02
    while task.get("status") == "PENDING":
        if time.monotonic() > deadline:
            raise ClientError(f"export {task['id']} still PENDING after {args.wait_timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
        task = client.get(f"/v2/zones/tasks/exports/{task['id']}", what="export status")
    if task.get("status") != "COMPLETE":
        raise ClientError(f"export failed: {task.get('message') or task.get('status')}")
    text = client.request("GET", f"/v2/zones/tasks/exports/{task['id']}/export",
                          accept="text/dns", what="download export").body
    if not isinstance(text, str):
        raise ClientError("the export did not come back as text/dns")
    if args.output:
        Path(args.output).write_text(text)
        if args.json:
            print_json({**task, "file": args.output})
        else:
            print(f"zone {zone['name']} written to {args.output}", file=sys.stderr)
    elif args.json:
        print_json({**task, "zonefile": text})
    else:
        write(text)
    return 0
