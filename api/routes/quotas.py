"""Quotas (designate-api.md §1.13): a flat dict per project; −1 means unlimited."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import context, json_response, read_body, service
from api.routes import RouteTable

routes = RouteTable("quotas", "Per-project limits")


@routes.route("GET", "/v2/quotas", summary="Show the caller's quotas", responses={200: s.Quotas},
              errors=(401,))
async def get_own_quotas(request: web.Request) -> web.Response:
    return json_response(await service(request).get_quotas(context(request)))


@routes.route("GET", "/v2/quotas/{project_id}", summary="Show a project's quotas",
              responses={200: s.Quotas}, errors=(401, 403))
async def get_quotas(request: web.Request) -> web.Response:
    """Another project's quotas need admin and all-projects."""
    return json_response(await service(request).get_quotas(
        context(request), request.match_info["project_id"]))


@routes.route("PATCH", "/v2/quotas/{project_id}", summary="Set a project's quotas",
              body=s.QuotaUpdate, responses={200: s.Quotas}, errors=(400, 401, 403), admin=True)
async def set_quotas(request: web.Request) -> web.Response:
    """Any subset of the keys; returns the full set."""
    values = await read_body(request, s.QuotaUpdate)
    return json_response(await service(request).set_quotas(
        context(request), request.match_info["project_id"], values))


@routes.route("DELETE", "/v2/quotas/{project_id}", summary="Reset a project's quotas",
              responses={204: None}, errors=(401, 403), admin=True)
async def reset_quotas(request: web.Request) -> web.Response:
    """Back to the defaults."""
    await service(request).reset_quotas(context(request), request.match_info["project_id"])
    return web.Response(status=204)
