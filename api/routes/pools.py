"""Pools (designate-api.md §1.10): reads, plus the deprecated writes kept for compatibility."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import context, href, json_response, object_response, path_uuid, read_body, service
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.service.admin import POOLS

routes = RouteTable("pools", "Pools of nameservers zones are served from (admin)")


def _href(request: web.Request, rid: str) -> str:
    return href(request, "/v2/pools", rid)


@routes.route("POST", "/v2/pools", summary="Create a pool (deprecated)", body=s.PoolCreate,
              responses={201: s.Pool}, errors=(400, 401, 403, 409), admin=True)
async def create_pool(request: web.Request) -> web.Response:
    """Deprecated in Designate in favour of pools.yaml; kept for compatibility."""
    values = await read_body(request, s.PoolCreate)
    pool = await service(request).create_pool(context(request), values)
    return object_response(pool, _href(request, pool["id"]), status=201, location=True)


@routes.route("GET", "/v2/pools", summary="List pools", responses={200: s.PoolList},
              errors=(400, 401, 403), admin=True, query=documented(POOLS.sort_keys, POOLS.filters))
async def list_pools(request: web.Request) -> web.Response:
    params, limit = list_params(request, sort_keys=POOLS.sort_keys, filters=POOLS.filters,
                                count=False)
    page = await service(request).list_pools(context(request), params)
    return json_response(list_body(request, "pools", page, limit,
                                   lambda x: _href(request, x["id"]), metadata=False))


@routes.route("GET", "/v2/pools/{pool_id}", summary="Show a pool", responses={200: s.Pool},
              errors=(400, 401, 403, 404), admin=True)
async def get_pool(request: web.Request) -> web.Response:
    rid = path_uuid(request, "pool_id")
    return object_response(await service(request).get_pool(context(request), rid),
                           _href(request, rid))


@routes.route("PATCH", "/v2/pools/{pool_id}", summary="Update a pool (deprecated)",
              body=s.PoolUpdate, responses={202: s.Pool}, errors=(400, 401, 403, 404, 409),
              admin=True)
async def update_pool(request: web.Request) -> web.Response:
    """Changing ns_records rewrites the apex NS recordset of every zone in the pool; 202."""
    rid = path_uuid(request, "pool_id")
    ctx, svc = context(request), service(request)
    values = await read_body(request, s.PoolUpdate, lambda: svc.get_pool(ctx, rid))
    return object_response(await svc.update_pool(ctx, rid, values), _href(request, rid),
                           status=202)


@routes.route("DELETE", "/v2/pools/{pool_id}", summary="Delete a pool (deprecated)",
              responses={204: None}, errors=(400, 401, 403, 404), admin=True)
async def delete_pool(request: web.Request) -> web.Response:
    """400 invalid_operation while the pool still holds zones."""
    await service(request).delete_pool(context(request), path_uuid(request, "pool_id"))
    return web.Response(status=204)
