"""``dnsaas pool update --file pools.yaml [--dry-run] [--delete]`` and ``dnsaas pool show``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from dnsaas.commands._common import add_database_option, open_database, run, settings_from


class _DryRun(Exception):
    pass


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pool", help="pools (Designate's pools.yaml)")
    psub = p.add_subparsers(dest="pool_command", required=True)
    up = psub.add_parser("update", help="apply a pools.yaml to the database")
    add_database_option(up)
    up.add_argument("--file", required=True, help="path of pools.yaml")
    up.add_argument("--dry-run", action="store_true", help="show the changes, apply nothing")
    up.add_argument("--delete", action="store_true", help="remove pools missing from the file")
    up.set_defaults(func=_update)
    show = psub.add_parser("show", help="print the pools as pools.yaml")
    add_database_option(show)
    show.set_defaults(func=_show)


def _update(args: argparse.Namespace) -> int:
    from dnsaas.pools import PoolFileError, apply_pools, load_pools_yaml

    try:
        pools = load_pools_yaml(Path(args.file).read_text())
    except OSError as exc:
        print(f"dnsaas: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    except PoolFileError as exc:
        print(f"dnsaas: {args.file}: {exc}", file=sys.stderr)
        return 1
    settings = settings_from(args)

    async def go() -> list[str]:
        engine = await open_database(settings)
        changes: list[str] = []
        try:
            async with engine.connect() as conn:
                tx = await conn.begin()
                try:
                    changes = [str(c) for c in await apply_pools(
                        conn, pools, delete=args.delete, retention=settings.journal_retention)]
                except BaseException:
                    await tx.rollback()
                    raise
                if args.dry_run:
                    await tx.rollback()
                else:
                    await tx.commit()
        finally:
            await engine.dispose()
        return changes
    try:
        changes = run(go())
    except PoolFileError as exc:
        print(f"dnsaas: {args.file}: {exc}", file=sys.stderr)
        return 1
    for line in changes or ["no changes"]:
        print(line)
    if args.dry_run:
        print("dry run: nothing applied")
    return 0


def _show(args: argparse.Namespace) -> int:
    from dnsaas.pools import current_pools

    settings = settings_from(args)

    async def go() -> list[dict[str, object]]:
        engine = await open_database(settings)
        try:
            async with engine.connect() as conn:
                return await current_pools(conn)
        finally:
            await engine.dispose()
    print(yaml.safe_dump(run(go()), sort_keys=False), end="")
    return 0
