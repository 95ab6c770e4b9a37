"""The versions document at ``/`` and ``/v2`` (no auth; openstacksdk discovers versions here)
and ``/healthcheck``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web

from api import schemas as s
from api.helpers import base_url, json_response, service
from api.routes import RouteTable
from dnsaas.errors import ServiceUnavailable

routes = RouteTable("versions", "API versions and health (no authentication)")

HELP = "https://docs.openstack.org/api-ref/dns"
# (id, status, updated): Designate's minor versions only add features (designate-api.md §0.1).
VERSIONS = [
    ("v2", "SUPPORTED", "2022-06-29T00:00:00Z"),
    ("v2.0", "SUPPORTED", "2022-06-29T00:00:00Z"),
    ("v2.1", "SUPPORTED", "2023-01-25T00:00:00Z"),
    ("v2.2", "SUPPORTED", "2024-03-13T00:00:00Z"),
    ("v2.3", "SUPPORTED", "2024-03-13T00:00:00Z"),
    ("v2.4", "CURRENT", "2025-02-26T00:00:00Z"),
]


def _version(request: web.Request, vid: str, status: str, updated: str) -> dict[str, Any]:
    return {"id": vid, "status": status, "updated": updated,
            "links": [{"href": base_url(request) + "/v2", "rel": "self"},
                      {"href": HELP, "rel": "help"}]}


@routes.route("GET", "/", summary="List API versions", public=True,
              responses={200: s.Versions})
async def list_versions(request: web.Request) -> web.Response:
    """Every supported version; the last one is CURRENT."""
    return json_response({"versions": [_version(request, *v) for v in VERSIONS]})


@routes.route("GET", "/v2", summary="Show the v2 version document", public=True,
              responses={200: s.VersionDocument})
async def show_v2(request: web.Request) -> web.Response:
    """The current v2 version, so that an endpoint configured as ``…/v2`` can be discovered."""
    return json_response({"version": _version(request, *VERSIONS[-1])})


@routes.route("GET", "/healthcheck", summary="Health check", public=True,
              responses={200: None}, errors=(503,), content_type="text/plain")
async def healthcheck(request: web.Request) -> web.Response:
    """``OK`` when the database answers, else 503."""
    try:
        async with service(request).engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        raise ServiceUnavailable() from exc
    return web.Response(text="OK")
