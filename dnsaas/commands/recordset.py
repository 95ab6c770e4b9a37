"""``dnsaas recordset create|list|show|update|delete``: recordsets through the REST API.

Recordset names may be absolute (``www.example.org.``), relative to the zone (``www``) or ``@``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dnsaas.client import Client, ClientError, absolute_name
from dnsaas.commands._client import (
    Progress,
    client_from,
    client_options,
    print_json,
    print_table,
    show,
    status_progress,
    wait_options,
)

LIST_COLUMNS = ["id", "name", "type", "records", "status", "action"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = client_options()
    p = sub.add_parser("recordset", help="recordsets (REST client)")
    rsub = p.add_subparsers(dest="recordset_command", required=True)

    c = rsub.add_parser("create", parents=[common], help="create a recordset")
    c.add_argument("zone", help="zone name or id")
    c.add_argument("name", help="recordset name: absolute, relative to the zone, or @")
    c.add_argument("--type", required=True, type=str.upper, help="record type, e.g. A")
    c.add_argument("--record", action="append", required=True, metavar="DATA",
                   help="record data (repeat for several records)")
    c.add_argument("--ttl", type=int)
    c.add_argument("--description")
    wait_options(c)
    c.set_defaults(func=_create)

    ls = rsub.add_parser("list", parents=[common], help="list recordsets (of a zone, or all)")
    ls.add_argument("zone", nargs="?", help="zone name or id (default: every zone)")
    ls.add_argument("--name", help="filter by name (* is a wildcard)")
    ls.add_argument("--type", type=str.upper, help="filter by type")
    ls.add_argument("--data", help="filter by record data (* is a wildcard)")
    ls.add_argument("--status", type=str.upper, help="filter by status")
    ls.add_argument("--limit", type=int, help="at most this many recordsets")
    ls.set_defaults(func=_list)

    for verb, helptext in (("show", "show one recordset"), ("update", "change a recordset"),
                           ("delete", "delete a recordset")):
        sp = rsub.add_parser(verb, parents=[common], help=helptext)
        sp.add_argument("zone", help="zone name or id")
        sp.add_argument("recordset", help="recordset id, or name (with --type if ambiguous)")
        sp.add_argument("--type", type=str.upper, help="record type, to pick among same-name sets")
        if verb == "update":
            sp.add_argument("--record", action="append", metavar="DATA",
                            help="new record data, replaces all records (repeatable)")
            sp.add_argument("--ttl", type=int)
            sp.add_argument("--no-ttl", action="store_true", help="inherit the zone TTL again")
            sp.add_argument("--description")
        if verb != "show":
            wait_options(sp, "ACTIVE" if verb == "update" else "the recordset is gone")
        sp.set_defaults(func={"show": _show, "update": _update, "delete": _delete}[verb])


def _wait(client: Client, args: argparse.Namespace, rs: dict[str, Any], *, gone: bool = False
          ) -> dict[str, Any] | None:
    label = f"recordset {rs['name']} {rs['type']}"
    path = f"/v2/zones/{rs['zone_id']}/recordsets/{rs['id']}"
    bar = Progress(f"waiting for {label}", quiet=args.json and not sys.stderr.isatty())
    result = client.wait_active(lambda: client.get(path, what=label), label, args.wait_timeout,
                                status_progress(bar, args.wait_timeout), gone_ok=gone)
    bar.done("deleted" if gone else "ACTIVE")
    return result


def _create(args: argparse.Namespace) -> int:
    client = client_from(args)
    zone = client.find_zone(args.zone)
    name = absolute_name(args.name, zone["name"])
    body: dict[str, Any] = {"name": name, "type": args.type, "records": args.record}
    if args.ttl is not None:
        body["ttl"] = args.ttl
    if args.description is not None:
        body["description"] = args.description
    rs = client.request("POST", f"/v2/zones/{zone['id']}/recordsets", body,
                        what=f"create recordset {name} {args.type}").body
    if args.wait:
        rs = _wait(client, args, rs) or rs
    show(args, rs)
    return 0


def _list(args: argparse.Namespace) -> int:
    client = client_from(args)
    query: dict[str, Any] = {"type": args.type, "data": args.data, "status": args.status}
    if args.zone:
        zone = client.find_zone(args.zone)
        path = f"/v2/zones/{zone['id']}/recordsets"
        if args.name:
            query["name"] = args.name if "*" in args.name else absolute_name(args.name, zone["name"])
    else:
        path = "/v2/recordsets"
        query["name"] = args.name
    items = list(client.paged(path, "recordsets", {k: v for k, v in query.items() if v}, args.limit))
    if args.json:
        print_json(items)
    else:
        print_table(items, LIST_COLUMNS if args.zone else ["zone_name", *LIST_COLUMNS])
    return 0


def _show(args: argparse.Namespace) -> int:
    client = client_from(args)
    show(args, client.find_recordset(client.find_zone(args.zone), args.recordset, args.type))
    return 0


def _update(args: argparse.Namespace) -> int:
    client = client_from(args)
    rs = client.find_recordset(client.find_zone(args.zone), args.recordset, args.type)
    body: dict[str, Any] = {}
    if args.record:
        body["records"] = args.record
    if args.no_ttl:
        body["ttl"] = None
    elif args.ttl is not None:
        body["ttl"] = args.ttl
    if args.description is not None:
        body["description"] = args.description
    if not body:
        raise ClientError("nothing to update: give --record, --ttl, --no-ttl or --description")
    rs = client.request("PUT", f"/v2/zones/{rs['zone_id']}/recordsets/{rs['id']}", body,
                        what=f"update recordset {rs['name']} {rs['type']}").body
    if args.wait:
        rs = _wait(client, args, rs) or rs
    show(args, rs)
    return 0


def _delete(args: argparse.Namespace) -> int:
    client = client_from(args)
    rs = client.find_recordset(client.find_zone(args.zone), args.recordset, args.type)
    deleted = client.request("DELETE", f"/v2/zones/{rs['zone_id']}/recordsets/{rs['id']}",
                             what=f"delete recordset {rs['name']} {rs['type']}").body
    if args.wait:
        _wait(client, args, rs, gone=True)
    if args.json:
        print_json(deleted)
    else:
        print(f"recordset {rs['name']} {rs['type']} ({rs['id']}) "
              + ("deleted" if args.wait else "is being deleted"))
    return 0
