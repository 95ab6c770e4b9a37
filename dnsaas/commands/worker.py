"""``dnsaas worker``: run the propagation worker alone (any number may run at once)."""

from __future__ import annotations

import argparse
import asyncio
import signal

from dnsaas.commands._common import add_database_option, open_database, run, settings_from


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("worker", help="run the propagation worker (jobs, backends, recovery)")
    add_database_option(p)
    p.add_argument("--concurrency", type=int, default=32, help="jobs run at once (default 32)")
    p.add_argument("--worker-id", help="name in leases and logs (default host:pid:random)")
    p.add_argument("--no-recovery", action="store_true", help="do not run the recovery task")
    p.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> None:
        from dnsaas.service import Service
        from workers.worker import Worker

        engine = await open_database(settings, report=print)
        loop = asyncio.get_running_loop()
        try:
            async with Worker(Service(engine, settings), settings, concurrency=args.concurrency,
                              worker_id=args.worker_id, recovery=not args.no_recovery) as w:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, w.stop_soon)
                print(f"worker {w.worker_id} running with {w.concurrency} slots", flush=True)
                await w.wait_closed()
        finally:
            await engine.dispose()
    run(go())
    return 0
