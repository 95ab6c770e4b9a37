"""Limits (designate-api.md §1.14): the caller's quotas and the fixed limits."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import context, json_response, service, settings
from api.routes import RouteTable

routes = RouteTable("limits", "What the caller may create")

MAX_NAME_LENGTH = 255


@routes.route("GET", "/v2/limits", summary="Show limits", responses={200: s.Limits},
              errors=(401,))
async def get_limits(request: web.Request) -> web.Response:
    quotas = await service(request).get_quotas(context(request))
    conf = settings(request)
    return json_response({
        "max_zones": quotas["zones"],
        "max_zone_recordsets": quotas["zone_recordsets"],
        "max_zone_records": quotas["zone_records"],
        "max_recordset_records": quotas["recordset_records"],
        "min_ttl": conf.min_ttl,
        "max_zone_name_length": MAX_NAME_LENGTH,
        "max_recordset_name_length": MAX_NAME_LENGTH,
        "max_page_limit": conf.max_page_limit,
    })
