"""Blacklists (admin; designate-api.md §1.12): regexes that non-admins' zone names may not match."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import context, href, json_response, object_response, path_uuid, read_body, service
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.service.admin import BLACKLISTS

routes = RouteTable("blacklists", "Zone name patterns reserved for admins")


def _href(request: web.Request, rid: str) -> str:
    return href(request, "/v2/blacklists", rid)


@routes.route("POST", "/v2/blacklists", summary="Create a blacklist entry", body=s.BlacklistCreate,
              responses={201: s.Blacklist}, errors=(400, 401, 403, 409), admin=True)
async def create_blacklist(request: web.Request) -> web.Response:
    values = await read_body(request, s.BlacklistCreate)
    bl = await service(request).create_blacklist(context(request), values)
    return object_response(bl, _href(request, bl["id"]), status=201, location=True)


@routes.route("GET", "/v2/blacklists", summary="List blacklist entries", responses={200: s.BlacklistList},
              errors=(400, 401, 403), admin=True, query=documented(BLACKLISTS.sort_keys, BLACKLISTS.filters))
async def list_blacklists(request: web.Request) -> web.Response:
    params, limit = list_params(request, sort_keys=BLACKLISTS.sort_keys, filters=BLACKLISTS.filters,
                                count=False)
    page = await service(request).list_blacklists(context(request), params)
    return json_response(list_body(request, "blacklists", page, limit,
                                   lambda x: _href(request, x["id"]), metadata=False))


@routes.route("GET", "/v2/blacklists/{blacklist_id}", summary="Show a blacklist entry",
              responses={200: s.Blacklist}, errors=(400, 401, 403, 404), admin=True)
async def get_blacklist(request: web.Request) -> web.Response:
    rid = path_uuid(request, "blacklist_id")
    return object_response(await service(request).get_blacklist(context(request), rid),
                           _href(request, rid))


@routes.route("PATCH", "/v2/blacklists/{blacklist_id}", summary="Update a blacklist entry",
              body=s.BlacklistUpdate, responses={200: s.Blacklist},
              errors=(400, 401, 403, 404, 409), admin=True)
async def update_blacklist(request: web.Request) -> web.Response:
    rid = path_uuid(request, "blacklist_id")
    ctx, svc = context(request), service(request)
    values = await read_body(request, s.BlacklistUpdate, lambda: svc.get_blacklist(ctx, rid))
    return object_response(await svc.update_blacklist(ctx, rid, values), _href(request, rid))


@routes.route("DELETE", "/v2/blacklists/{blacklist_id}", summary="Delete a blacklist entry",
              responses={204: None}, errors=(400, 401, 403, 404), admin=True)
async def delete_blacklist(request: web.Request) -> web.Response:
    await service(request).delete_blacklist(context(request), path_uuid(request, "blacklist_id"))
    return web.Response(status=204)
