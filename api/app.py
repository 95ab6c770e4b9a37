"""The aiohttp application: ``create_app(settings, service)``, and ``run`` for ``dnsaas api``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from api import middlewares
from api.auth import authenticator_for
from api.helpers import SERVICE, SETTINGS, SPECS
from api.routes import all_tables, install
from api.routes.docs import DOC_CACHE
from dnsaas.service import Service, pgfast
from dnsaas.settings import Settings

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10.0


def create_app(settings: Settings, service: Service) -> web.Application:
    """The REST API on ``service``. The caller owns the service (and its engine)."""
    app = web.Application(middlewares=middlewares.chain(),
                          client_max_size=settings.max_request_body)
    app[SETTINGS] = settings
    app[SERVICE] = service
    app[middlewares.AUTHENTICATOR] = authenticator_for(settings.auth, service)
    specs = install(app, all_tables())
    app[SPECS] = specs
    app[middlewares.SPEC_BY_HANDLER] = {s.handler: s for s in specs}
    app[DOC_CACHE] = {}
    return app


async def warm_parser(_app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: start the zone-file parse worker (:mod:`dnsaas.parsepool`) in the
    background, so the first zone import does not wait for it; stop it at the end (a forked
    ``--workers`` process otherwise hangs at exit joining the pool's manager thread)."""
    from dnsaas import parsepool

    task = asyncio.create_task(parsepool.warm(), name="parsepool-warm")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    parsepool.shutdown()


def heartbeat(service: Service, name: str = "api", interval: float = HEARTBEAT_SECONDS
              ) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that records ``name`` in service_statuses every ``interval`` s."""
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        host = socket.gethostname()

        async def beat() -> None:
            while True:
                try:
                    await service.heartbeat(name, host)
                except Exception as exc:  # the API keeps serving while the DB is away
                    log.warning("heartbeat failed: %s", exc)
                await asyncio.sleep(interval)
        task = asyncio.create_task(beat())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return ctx


async def build(settings: Settings, *, with_heartbeat: bool = True) -> web.Application:
    """Open the database and make the app; the engine is disposed on cleanup."""
    from dnsaas.commands._common import open_database

    engine = await open_database(settings, report=log.info)
    pgfast.keep_connections(engine, settings.db_pool_size)
    service = Service(engine, settings)
    app = create_app(settings, service)
    app.cleanup_ctx.append(warm_parser)
    if with_heartbeat:
        app.cleanup_ctx.append(heartbeat(service))

    async def dispose(_app: web.Application) -> None:
        await pgfast.release_connections(engine)
        await engine.dispose()
    app.on_cleanup.append(dispose)
    return app


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when it is installed (less CPU per request), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _serve(settings: Settings, sock: socket.socket, access_log: bool) -> None:
    web.run_app(build(settings), sock=sock, loop=event_loop(),
                access_log=logging.getLogger("aiohttp.access") if access_log else None,
                print=lambda text: log.info("%s", text.strip()), shutdown_timeout=10)


def _worker(settings: Settings, sock: socket.socket, access_log: bool) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):  # not the parent's handlers
        signal.signal(sig, signal.SIG_DFL)
    _serve(settings, sock, access_log)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def run(settings: Settings, *, host: str | None = None, port: int | None = None,
        access_log: bool = True, workers: int = 1) -> None:
    """Serve the API until SIGINT/SIGTERM (``dnsaas api``).

    ``workers`` > 1 forks that many processes sharing one listening socket; they are
    stateless (design.md invariant 3), so each has its own engine and token cache.
    """
    host = host or settings.api_host
    port = port if port is not None else settings.api_port
    sock = _listen(host, port)
    if workers <= 1:
        _serve(settings, sock, access_log)
        return
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(settings, sock, access_log), daemon=False)
             for _ in range(workers)]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGINT)
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for p in procs:
            p.start()
        log.info("API on http://%s:%d with %d worker processes", host, port, workers)
        sentinels = {p.sentinel: p for p in procs}
        while sentinels:
            ready = multiprocessing.connection.wait(list(sentinels))
            for fd in ready:
                sentinels.pop(fd)  # type: ignore[call-overload]
            if not stopping:  # a worker died on its own: stop the rest
                stop(signal.SIGTERM, None)
        for p in procs:
            p.join(15)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        sock.close()
