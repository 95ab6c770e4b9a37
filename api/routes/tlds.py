"""TLDs (admin; designate-api.md §1.11). With none registered, any zone name is allowed."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import context, href, json_response, object_response, path_uuid, read_body, service
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.service.admin import TLDS

routes = RouteTable("tlds", "Top-level domains zones must end in (admin)")


def _href(request: web.Request, rid: str) -> str:
    return href(request, "/v2/tlds", rid)


@routes.route("POST", "/v2/tlds", summary="Create a TLD", body=s.TldCreate,
              responses={201: s.Tld}, errors=(400, 401, 403, 409), admin=True)
async def create_tld(request: web.Request) -> web.Response:
    values = await read_body(request, s.TldCreate)
    tld = await service(request).create_tld(context(request), values)
    return object_response(tld, _href(request, tld["id"]), status=201, location=True)


@routes.route("GET", "/v2/tlds", summary="List TLDs", responses={200: s.TldList},
              errors=(400, 401, 403), admin=True, query=documented(TLDS.sort_keys, TLDS.filters))
async def list_tlds(request: web.Request) -> web.Response:
    params, limit = list_params(request, sort_keys=TLDS.sort_keys, filters=TLDS.filters,
                                count=False)
    page = await service(request).list_tlds(context(request), params)
    return json_response(list_body(request, "tlds", page, limit,
                                   lambda x: _href(request, x["id"]), metadata=False))


@routes.route("GET", "/v2/tlds/{tld_id}", summary="Show a TLD", responses={200: s.Tld},
              errors=(400, 401, 403, 404), admin=True)
async def get_tld(request: web.Request) -> web.Response:
    rid = path_uuid(request, "tld_id")
    return object_response(await service(request).get_tld(context(request), rid),
                           _href(request, rid))


@routes.route("PATCH", "/v2/tlds/{tld_id}", summary="Update a TLD", body=s.TldUpdate,
              responses={200: s.Tld}, errors=(400, 401, 403, 404, 409), admin=True)
async def update_tld(request: web.Request) -> web.Response:
    rid = path_uuid(request, "tld_id")
    ctx, svc = context(request), service(request)
    values = await read_body(request, s.TldUpdate, lambda: svc.get_tld(ctx, rid))
    return object_response(await svc.update_tld(ctx, rid, values), _href(request, rid))


@routes.route("DELETE", "/v2/tlds/{tld_id}", summary="Delete a TLD", responses={204: None},
              errors=(400, 401, 403, 404), admin=True)
async def delete_tld(request: web.Request) -> web.Response:
    await service(request).delete_tld(context(request), path_uuid(request, "tld_id"))
    return web.Response(status=204)
