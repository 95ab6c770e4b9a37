"""``dnsaas serve``: the REST API, mdns and a worker in one process, one asyncio task group.

The embedded SQLite database is created/upgraded on start, the default pool exists, and a
fresh admin token is printed (tokens are stored hashed, so it is shown once). SIGINT/SIGTERM
stop it gracefully: stop accepting, drain, close. A second Ctrl-C forces the exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

from dnsaas.commands._common import add_database_option, open_database, settings_from

if TYPE_CHECKING:
    from dnsaas.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run API, mdns and worker in one process (development)")
    add_database_option(p)
    p.add_argument("--api-port", type=int, help="REST API port (default 9001)")
    p.add_argument("--mdns-port", type=int, help="mdns port, UDP and TCP (default 5354)")
    p.add_argument("--auth", choices=["token", "noauth"], help="authentication mode")
    p.add_argument("--no-token", action="store_true", help="do not create a demo admin token")
    p.set_defaults(func=_serve)


def _port_free(host: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True


def _serve(args: argparse.Namespace) -> int:
    settings = settings_from(args, api_port=args.api_port, mdns_port=args.mdns_port,
                             auth=args.auth)
    taken = [f"{what} port {host}:{port} ({proto})" for what, host, port, proto, kind in (
        ("API", settings.api_host, settings.api_port, "TCP", socket.SOCK_STREAM),
        ("mdns", settings.mdns_host, settings.mdns_port, "TCP", socket.SOCK_STREAM),
        ("mdns", settings.mdns_host, settings.mdns_port, "UDP", socket.SOCK_DGRAM),
    ) if not _port_free(host, port, kind)]
    if taken:
        print(f"dnsaas serve: {', '.join(taken)} is already in use; pick another with "
              "--api-port/--mdns-port or DNSAAS_API_PORT/DNSAAS_MDNS_PORT", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(settings, demo_token=not args.no_token))
    except KeyboardInterrupt:
        return 130
    return 0


async def serve(settings: Settings, *, demo_token: bool = True,
                stop: asyncio.Event | None = None) -> None:
    """Run API, mdns and worker until ``stop`` is set (or SIGINT/SIGTERM)."""
    from aiohttp import web

    from api.app import create_app, warm_parser
    from dnsaas.service import Service
    from mdns.server import MdnsServer
    from workers.worker import Worker

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            print("\ndnsaas: forced exit", file=sys.stderr, flush=True)
            os._exit(130)
        print("\ndnsaas: stopping (Ctrl-C again to force)", file=sys.stderr, flush=True)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)

    engine = await open_database(settings, report=lambda line: print(f"dnsaas: {line}"))
    service = Service(engine, settings)
    token = None
    if demo_token and settings.auth == "token":
        token, _ = await service.create_token("demo", ["member", "admin"], user_id="demo",
                                              description="printed by dnsaas serve")
    app = create_app(settings, service)
    app.cleanup_ctx.append(warm_parser)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.api_host, settings.api_port)
        await site.start()
        async with MdnsServer(settings, engine) as mdns, Worker(service, settings):
            _banner(settings, mdns.port, token)
            await stop.wait()
    finally:
        await runner.cleanup()
        await engine.dispose()
        print("dnsaas: stopped", flush=True)


def _banner(settings: Settings, mdns_port: int, token: str | None) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    if token:
        auth = f"X-Auth-Token: {token}"
        how = f"token auth: send the header '{auth}' (project 'demo', roles member+admin)"
    else:
        auth = "X-Auth-Project-ID: demo"
        how = "noauth: identity from X-Auth-Project-ID / X-Roles headers"
    exports = f"export DNSAAS_URL={api}" + (f" DNSAAS_TOKEN={token}" if token else "")
    client = f"""
or with the dnsaas client (in another shell):
  {exports}
  dnsaas zone create example.org. --wait
  dnsaas recordset create example.org. www --type A --record 192.0.2.10 --wait
""" if token else ""
    print(f"""
dnsaas is running
  REST API  {api}/v2   (docs: {api}/docs)
  mdns      {settings.mdns_host}:{mdns_port} UDP+TCP
  database  {settings.database_url}
  {how}

Try it:
  curl -s -H '{auth}' -H 'Content-Type: application/json' \\
       -d '{{"name": "example.org.", "email": "admin@example.org"}}' {api}/v2/zones
  dig @{settings.mdns_host} -p {mdns_port} example.org. AXFR
{client}""", flush=True)
