"""``dnsaas token create|list|revoke``: API tokens (stored hashed; shown once on creation)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dnsaas.commands._common import add_database_option, open_database, run, settings_from


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("token", help="API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="make a token and print it (only this once)")
    add_database_option(create)
    create.add_argument("--project", required=True, help="project id the token acts for")
    create.add_argument("--roles", default="member",
                        help="comma-separated roles: admin, member, reader (default member)")
    create.add_argument("--user", help="user id recorded in the context")
    create.add_argument("--description", help="free text")
    create.add_argument("--expires-in", type=float, metavar="SECONDS",
                        help="lifetime in seconds (default: no expiry)")
    create.add_argument("--json", action="store_true", help="print token and metadata as JSON")
    create.set_defaults(func=_create)
    lst = tsub.add_parser("list", help="list tokens (never their secrets)")
    add_database_option(lst)
    lst.add_argument("--project", help="only this project's tokens")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=_list)
    rev = tsub.add_parser("revoke", help="delete a token by id")
    add_database_option(rev)
    rev.add_argument("id", help="token id (from token list)")
    rev.set_defaults(func=_revoke)


def _create(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]

    async def go() -> tuple[str, dict[str, object]]:
        engine = await open_database(settings)
        try:
            return await _service(engine, settings).create_token(
                args.project, roles, user_id=args.user, description=args.description,
                expires_in=args.expires_in)
        finally:
            await engine.dispose()
    token, row = run(go())
    if args.json:
        print(json.dumps({"token": token, **row}))
    else:
        print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> list[dict[str, object]]:
        engine = await open_database(settings)
        try:
            return await _service(engine, settings).list_tokens(args.project)
        finally:
            await engine.dispose()
    rows = run(go())
    if args.json:
        print(json.dumps(rows))
        return 0
    cols = ("id", "project_id", "user_id", "roles", "expires_at", "last_used_at", "description")
    print("\t".join(cols))
    for r in rows:
        print("\t".join(",".join(v) if isinstance(v := r[c], list) else str(v or "-")
                        for c in cols))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> None:
        engine = await open_database(settings)
        try:
            await _service(engine, settings).revoke_token(args.id)
        finally:
            await engine.dispose()
    run(go())
    print(f"revoked {args.id}")
    return 0


def _service(engine: object, settings: object) -> Any:
    from dnsaas.service import Service  # lazily: every `dnsaas` command imports this module

    return Service(engine, settings)  # type: ignore[arg-type]
