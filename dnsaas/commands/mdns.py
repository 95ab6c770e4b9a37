"""``dnsaas mdns``: run the mdns DNS server (UDP and TCP) alone."""

from __future__ import annotations

import argparse
import asyncio
import signal

from dnsaas.commands._common import add_database_option, open_database, run, settings_from


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("mdns", help="run the mdns server (SOA/AXFR/IXFR/NOTIFY)")
    add_database_option(p)
    p.add_argument("--host", help="listen address (overrides DNSAAS_MDNS_HOST)")
    p.add_argument("--port", type=int, help="listen port (overrides DNSAAS_MDNS_PORT)")
    p.set_defaults(func=_mdns)


def _mdns(args: argparse.Namespace) -> int:
    settings = settings_from(args, mdns_host=args.host, mdns_port=args.port)

    async def go() -> None:
        from mdns.server import MdnsServer

        engine = await open_database(settings, report=print)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with MdnsServer(settings, engine) as srv:
                print(f"mdns listening on {srv.host} port {srv.port}", flush=True)
                await stop.wait()
        finally:
            await engine.dispose()
    run(go())
    return 0
