"""TSIG keys (admin; designate-api.md §1.9). Secrets are returned in plaintext, as Designate does."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import context, href, json_response, object_response, path_uuid, read_body, service
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.service.admin import TSIGKEYS

routes = RouteTable("tsigkeys", "TSIG keys for pools and zones (admin)")


def _href(request: web.Request, rid: str) -> str:
    return href(request, "/v2/tsigkeys", rid)


@routes.route("POST", "/v2/tsigkeys", summary="Create a TSIG key", body=s.TsigKeyCreate,
              responses={201: s.TsigKey}, errors=(400, 401, 403, 409), admin=True)
async def create_tsigkey(request: web.Request) -> web.Response:
    values = await read_body(request, s.TsigKeyCreate)
    key = await service(request).create_tsigkey(context(request), values)
    return object_response(key, _href(request, key["id"]), status=201, location=True)


@routes.route("GET", "/v2/tsigkeys", summary="List TSIG keys", responses={200: s.TsigKeyList},
              errors=(400, 401, 403), admin=True, query=documented(TSIGKEYS.sort_keys, TSIGKEYS.filters))
async def list_tsigkeys(request: web.Request) -> web.Response:
    params, limit = list_params(request, sort_keys=TSIGKEYS.sort_keys, filters=TSIGKEYS.filters,
                                count=False)
    page = await service(request).list_tsigkeys(context(request), params)
    return json_response(list_body(request, "tsigkeys", page, limit,
                                   lambda x: _href(request, x["id"]), metadata=False))


@routes.route("GET", "/v2/tsigkeys/{tsigkey_id}", summary="Show a TSIG key", responses={200: s.TsigKey},
              errors=(400, 401, 403, 404), admin=True)
async def get_tsigkey(request: web.Request) -> web.Response:
    rid = path_uuid(request, "tsigkey_id")
    return object_response(await service(request).get_tsigkey(context(request), rid),
                           _href(request, rid))


@routes.route("PATCH", "/v2/tsigkeys/{tsigkey_id}", summary="Update a TSIG key", body=s.TsigKeyUpdate,
              responses={200: s.TsigKey}, errors=(400, 401, 403, 404, 409), admin=True)
async def update_tsigkey(request: web.Request) -> web.Response:
    rid = path_uuid(request, "tsigkey_id")
    ctx, svc = context(request), service(request)
    values = await read_body(request, s.TsigKeyUpdate, lambda: svc.get_tsigkey(ctx, rid))
    return object_response(await svc.update_tsigkey(ctx, rid, values), _href(request, rid))


@routes.route("DELETE", "/v2/tsigkeys/{tsigkey_id}", summary="Delete a TSIG key", responses={204: None},
              errors=(400, 401, 403, 404), admin=True)
async def delete_tsigkey(request: web.Request) -> web.Response:
    await service(request).delete_tsigkey(context(request), path_uuid(request, "tsigkey_id"))
    return web.Response(status=204)
