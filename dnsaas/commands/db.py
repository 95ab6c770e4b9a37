"""``dnsaas db upgrade|current``: database migrations."""

from __future__ import annotations

import argparse

from dnsaas.commands._common import add_database_option, run, settings_from


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("db", help="database migrations")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="migrate the database to the newest schema")
    add_database_option(up)
    up.set_defaults(func=_upgrade)
    cur = dbsub.add_parser("current", help="print the schema revision")
    add_database_option(cur)
    cur.set_defaults(func=_current)


def _upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> None:
        from dnsaas.storage import bootstrap, db

        engine = db.create_engine(settings.database_url)
        try:
            for line in await bootstrap.prepare(engine, settings, auto_migrate=True):
                print(line)
        finally:
            await engine.dispose()
    run(go())
    return 0


def _current(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> None:
        from dnsaas.storage import db

        engine = db.create_engine(settings.database_url)
        try:
            print(await db.current_revision(engine) or "empty")
        finally:
            await engine.dispose()
    run(go())
    return 0
