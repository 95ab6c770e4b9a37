"""The aiohttp application: ``create_app(settings, service)``, and ``run`` for ``dnsaas api``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from api import middlewares
from api.auth import authenticator_for
from api.helpers import SERVICE, SETTINGS, SPECS
from api.routes import all_tables, install
from api.routes.docs import DOC_CACHE
from dnsaas.service import Service
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


def heartbeat(service: Service, name: str = "api", interval: float = HEARTBEAT_SECONDS):  # noqa: ANN201
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
    service = Service(engine, settings)
    app = create_app(settings, service)
    if with_heartbeat:
        app.cleanup_ctx.append(heartbeat(service))

    async def dispose(_app: web.Application) -> None:
        await engine.dispose()
    app.on_cleanup.append(dispose)
    return app


def run(settings: Settings, *, host: str | None = None, port: int | None = None,
        access_log: bool = True, reuse_port: bool = False) -> None:
    """Serve the API until SIGINT/SIGTERM (``dnsaas api``)."""
    host = host or settings.api_host
    port = port if port is not None else settings.api_port
    web.run_app(build(settings), host=host, port=port, reuse_port=reuse_port,
                access_log=logging.getLogger("aiohttp.access") if access_log else None,
                print=lambda text: log.info("%s", text.strip()), shutdown_timeout=10)
