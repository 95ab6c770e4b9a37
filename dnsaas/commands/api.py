"""``dnsaas api``: run the REST API alone (production: several of these against PostgreSQL)."""

from __future__ import annotations

import argparse

from dnsaas.commands._common import add_database_option, settings_from


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("api", help="run the REST API (Designate v2 compatible)")
    add_database_option(p)
    p.add_argument("--host", help="listen address (default DNSAAS_API_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default DNSAAS_API_PORT or 9001)")
    p.add_argument("--auth", choices=["token", "noauth"],
                   help="authentication mode (default DNSAAS_AUTH or token)")
    p.add_argument("--workers", type=int, default=1,
                   help="API processes sharing the listening socket (default 1)")
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")
    p.set_defaults(func=_api)


def _api(args: argparse.Namespace) -> int:
    from api.app import run

    settings = settings_from(args, auth=args.auth)
    run(settings, host=args.host, port=args.port, access_log=not args.no_access_log,
        workers=args.workers)
    return 0
