"""Zone tasks (designate-api.md §1.4): xfr, abandon, pool_move."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from api import schemas as s
from api.helpers import context, path_uuid, read_json, service
from api.routes import RouteTable

routes = RouteTable("zone tasks", "Transfer now, abandon, move to another pool")


class PoolMove(s.RequestModel):
    RESOURCE = "pool_move"
    pool_id: str | None = Field(None, description="Target pool (default: the default pool)",
                                json_schema_extra=s.UUID_FORMAT)


@routes.route("POST", "/v2/zones/{zone_id}/tasks/xfr", summary="Transfer a secondary zone now",
              responses={202: None}, errors=(400, 401, 403, 404))
async def xfr_zone(request: web.Request) -> web.Response:
    """SECONDARY zones only: the worker asks the masters for their serial and transfers the
    zone when it is newer."""
    await service(request).xfr_zone(context(request), path_uuid(request, "zone_id"))
    return web.Response(status=202)


@routes.route("POST", "/v2/zones/{zone_id}/tasks/abandon", summary="Abandon a zone",
              responses={204: None}, errors=(400, 401, 403, 404), admin=True)
async def abandon_zone(request: web.Request) -> web.Response:
    """Removes the zone from the database only; the nameservers keep serving it."""
    await service(request).abandon_zone(context(request), path_uuid(request, "zone_id"))
    return web.Response(status=204)


@routes.route("POST", "/v2/zones/{zone_id}/tasks/pool_move", summary="Move a zone to a pool",
              body=PoolMove, responses={202: None}, errors=(400, 401, 403, 404), admin=True)
async def pool_move(request: web.Request) -> web.Response:
    """The apex NS and SOA are rewritten for the target pool; the zone is created on its
    targets and removed from the old pool's. The body is optional."""
    zone_id = path_uuid(request, "zone_id")
    values: dict[str, Any] = {}
    raw = await request.read()
    if raw.strip():
        values = await s.parse(PoolMove, await read_json(request))
    await service(request).pool_move(context(request), zone_id, values)
    return web.Response(status=202)
