"""``/openapi.json`` (generated from the route tables and the pydantic models) and ``/docs``
(a self-contained page that renders it; no CDN)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from api.helpers import SPECS, json_response
from api.openapi import openapi_document
from api.routes import RouteTable

routes = RouteTable("docs", "This API's own documentation (no authentication)")

DOCS_HTML = Path(__file__).resolve().parent.parent / "static" / "docs.html"
DOC_CACHE = web.AppKey("openapi_cache", dict)


@routes.route("GET", "/openapi.json", summary="OpenAPI 3.1 document", public=True,
              responses={200: None})
async def openapi_json(request: web.Request) -> web.Response:
    """This document."""
    cache = request.app[DOC_CACHE]
    if "doc" not in cache:
        cache["doc"] = openapi_document(request.app[SPECS])
    return json_response(cache["doc"])


@routes.route("GET", "/docs", summary="Human-readable API documentation", public=True,
              responses={200: None}, content_type="text/html")
async def docs_page(request: web.Request) -> web.Response:
    """An HTML page that renders ``/openapi.json``."""
    return web.Response(body=DOCS_HTML.read_bytes(), content_type="text/html")
