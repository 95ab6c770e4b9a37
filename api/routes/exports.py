"""Zone exports (designate-api.md §1.6), on the plural ``/v2/zones/tasks/exports`` paths and
the singular ``/v2/zones/tasks/export`` ones that openstacksdk uses."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from api import schemas as s
from api.helpers import context, href, json_response, path_uuid, service
from api.paging import documented, list_body, list_params
from api.routes import Handler, RouteTable
from dnsaas.errors import UnsupportedAccept
from dnsaas.service.imports import TASK_FILTERS, TASK_SORT_KEYS

routes = RouteTable("exports", "Zone exports: a zone as a zone file")

TEXT_DNS = "text/dns"


class ExportLinks(s.ResponseModel):
    self_: str = Field(alias="self")
    export: str | None = Field(None, description="The zone file, once the export is COMPLETE")


class ZoneExport(s.ResponseModel):
    id: str = Field(json_schema_extra=s.UUID_FORMAT)
    status: str = Field(json_schema_extra={"enum": ["PENDING", "COMPLETE", "ERROR"]})
    message: str | None
    location: str | None = Field(description="`designate://v2/zones/tasks/exports/<id>/export` "
                                 "when COMPLETE")
    zone_id: str = Field(json_schema_extra=s.UUID_FORMAT)
    project_id: str
    created_at: str = Field(description=s.TIMESTAMP)
    updated_at: str | None = Field(description=s.TIMESTAMP)
    version: int
    links: ExportLinks


class ZoneExportList(s.ResponseModel):
    exports: list[ZoneExport]
    links: s.ListLinks
    metadata: s.Metadata


def export_href(request: web.Request, export_id: str) -> str:
    return href(request, "/v2/zones/tasks/exports", export_id)


def _links(request: web.Request, item: dict[str, Any]) -> dict[str, Any]:
    item["links"] = {"self": export_href(request, item["id"])}
    if item.get("location"):
        item["links"]["export"] = export_href(request, item["id"]) + "/export"
    return item


def accepts_zone_file(accept: str | None) -> bool:
    """No Accept, ``*/*``, ``text/*`` or ``text/dns``."""
    if not accept or not accept.strip():
        return True
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "text/*", TEXT_DNS):
            return True
    return False


@routes.route("POST", "/v2/zones/{zone_id}/tasks/export", summary="Export a zone",
              responses={202: ZoneExport}, errors=(400, 401, 403, 404, 413))
async def create_export(request: web.Request) -> web.Response:
    """Starts an export of the zone; 413 when it has more recordsets than the project's
    `api_export_size` quota; shared-zone targets get 403."""
    zone_id = path_uuid(request, "zone_id")
    task = _links(request, await service(request).create_zone_export(context(request), zone_id))
    return json_response(task, 202, {"Location": task["links"]["self"]})


def _named(fn: Handler, name: str) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        return await fn(request)
    wrapper.__name__ = name
    wrapper.__doc__ = fn.__doc__
    return wrapper


async def _list_exports(request: web.Request) -> web.Response:
    params, limit = list_params(request, sort_keys=TASK_SORT_KEYS, filters=TASK_FILTERS,
                                count=True)
    page = await service(request).list_zone_exports(context(request), params)
    body = list_body(request, "exports", page, limit, lambda i: export_href(request, i["id"]),
                     metadata=True)
    for item in body["exports"]:
        _links(request, item)
    return json_response(body)


async def _get_export(request: web.Request) -> web.Response:
    task = await service(request).get_zone_export(context(request),
                                                  path_uuid(request, "export_id"))
    return json_response(_links(request, task))


async def _delete_export(request: web.Request) -> web.Response:
    await service(request).delete_zone_export(context(request), path_uuid(request, "export_id"))
    return web.Response(status=204)


async def _export_file(request: web.Request) -> web.Response:
    """The zone file (`text/dns`) of a COMPLETE export."""
    if not accepts_zone_file(request.headers.get("Accept")):
        raise UnsupportedAccept(f"Unsupported Accept header {request.headers['Accept']!r}")
    text = await service(request).export_content(context(request),
                                                 path_uuid(request, "export_id"))
    return web.Response(text=text, content_type=TEXT_DNS)


_LIST_QUERY = documented(TASK_SORT_KEYS, TASK_FILTERS)
for _base, _suffix in (("/v2/zones/tasks/exports", ""), ("/v2/zones/tasks/export", "_singular")):
    _what = " (singular path, as openstacksdk uses)" if _suffix else ""
    routes.route("GET", _base, summary="List zone exports" + _what,
                 responses={200: ZoneExportList}, errors=(400, 401), query=_LIST_QUERY)(
        _named(_list_exports, "list_exports" + _suffix))
    routes.route("GET", _base + "/{export_id}", summary="Show a zone export" + _what,
                 responses={200: ZoneExport}, errors=(400, 401, 404))(
        _named(_get_export, "get_export" + _suffix))
    routes.route("DELETE", _base + "/{export_id}", summary="Delete a zone export" + _what,
                 responses={204: None}, errors=(400, 401, 403, 404))(
        _named(_delete_export, "delete_export" + _suffix))
    routes.route("GET", _base + "/{export_id}/export", summary="Get the zone file" + _what,
                 responses={200: None}, errors=(400, 401, 404, 406), content_type=TEXT_DNS)(
        _named(_export_file, "export_file" + _suffix))
