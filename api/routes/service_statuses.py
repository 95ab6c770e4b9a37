"""Service statuses (admin; designate-api.md §1.15), also under the alias
``/v2/service_status`` (bug 1919183)."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import context, href, json_response, object_response, path_uuid, service
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.service.admin import SERVICE_STATUSES

routes = RouteTable("service_statuses", "Heartbeats of dnsaas processes (admin)")

QUERY = documented(SERVICE_STATUSES.sort_keys, SERVICE_STATUSES.filters)


def _href(request: web.Request, rid: str) -> str:
    return href(request, "/v2/service_statuses", rid)


async def _list(request: web.Request) -> web.Response:
    params, limit = list_params(request, sort_keys=SERVICE_STATUSES.sort_keys,
                                filters=SERVICE_STATUSES.filters, count=False)
    page = await service(request).list_service_statuses(context(request), params)
    return json_response(list_body(request, "service_statuses", page, limit,
                                   lambda x: _href(request, x["id"]), metadata=False))


async def _get(request: web.Request) -> web.Response:
    rid = path_uuid(request, "service_status_id")
    return object_response(await service(request).get_service_status(context(request), rid),
                           _href(request, rid))


@routes.route("GET", "/v2/service_statuses", summary="List service statuses",
              responses={200: s.ServiceStatusList}, errors=(400, 401, 403), admin=True, query=QUERY)
async def list_service_statuses(request: web.Request) -> web.Response:
    return await _list(request)


@routes.route("GET", "/v2/service_statuses/{service_status_id}", summary="Show a service status",
              responses={200: s.ServiceStatus}, errors=(400, 401, 403, 404), admin=True)
async def get_service_status(request: web.Request) -> web.Response:
    return await _get(request)


@routes.route("GET", "/v2/service_status", summary="List service statuses (alias)",
              responses={200: s.ServiceStatusList}, errors=(400, 401, 403), admin=True, query=QUERY)
async def list_service_status_alias(request: web.Request) -> web.Response:
    return await _list(request)


@routes.route("GET", "/v2/service_status/{service_status_id}",
              summary="Show a service status (alias)", responses={200: s.ServiceStatus},
              errors=(400, 401, 403, 404), admin=True)
async def get_service_status_alias(request: web.Request) -> web.Response:
    return await _get(request)
