"""Zone imports (designate-api.md §1.5): ``text/dns`` or JSON ``{"zonefile": ...}`` in, an
asynchronous task out."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import Field

from api import schemas as s
from api.helpers import context, href, json_response, path_uuid, service, settings
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.errors import (
    EmptyRequestBody,
    InvalidJson,
    InvalidObject,
    UnsupportedContentType,
    error_entry,
)
from dnsaas.service.imports import TASK_FILTERS, TASK_SORT_KEYS

routes = RouteTable("imports", "Zone imports: create a zone from a zone file")

TEXT_DNS = "text/dns"


class ZoneImportJson(s.RequestModel):
    """Body of a JSON zone import (v2.4). With ``Content-Type: text/dns`` the body is the zone
    file itself."""

    RESOURCE = "zone_import"
    zonefile: str = Field(description="The zone file, as BIND writes it")
    attributes: dict[str, str] | None = Field(None, description="Scheduler hints")


class ImportLinks(s.ResponseModel):
    self_: str = Field(alias="self")
    zone: str | None = Field(None, description="The imported zone, once there is one")


class ZoneImport(s.ResponseModel):
    id: str = Field(json_schema_extra=s.UUID_FORMAT)
    status: str = Field(json_schema_extra={"enum": ["PENDING", "COMPLETE", "ERROR"]})
    message: str | None = Field(description="`<zone> imported`, or why the import failed "
                                "(naming the line of the zone file)")
    zone_id: str | None
    project_id: str
    progress: int = Field(description="Percent done (dnsaas extension)")
    created_at: str = Field(description=s.TIMESTAMP)
    updated_at: str | None = Field(description=s.TIMESTAMP)
    version: int
    links: ImportLinks


class ZoneImportList(s.ResponseModel):
    imports: list[ZoneImport]
    links: s.ListLinks
    metadata: s.Metadata


def import_href(request: web.Request, import_id: str) -> str:
    return href(request, "/v2/zones/tasks/imports", import_id)


def _links(request: web.Request, item: dict[str, Any]) -> dict[str, Any]:
    links = {"self": import_href(request, item["id"])}
    if item.get("zone_id"):
        links["zone"] = href(request, "/v2/zones", item["zone_id"])
    item["links"] = links
    return item


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@routes.route("POST", "/v2/zones/tasks/imports", summary="Import a zone file",
              body=ZoneImportJson, responses={202: ZoneImport}, errors=(400, 401, 403, 415),
              own_body_limit=True,
              description="Send the zone file with `Content-Type: text/dns`, or as JSON "
              "`{\"zonefile\": ...}`. The import runs in the background: poll the task until "
              "it is COMPLETE (`zone_id` set) or ERROR (`message` names the line).")
async def create_import(request: web.Request) -> web.Response:
    ctx = context(request)
    ctx.require_writer()
    limit = settings(request).max_import_size
    if request.content_type not in (TEXT_DNS, "application/json"):
        raise UnsupportedContentType("Content-type must be text/dns or application/json")
    raw = await _read_limited(request, limit)
    error = None
    text: str | None = None
    if raw is None:
        error = f"The zone file is larger than {limit} bytes."
    elif not raw.strip():
        raise EmptyRequestBody("Request Body is empty")
    elif request.content_type == TEXT_DNS:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            error = "Malformed zonefile. The zone file is not UTF-8 text."
    else:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise InvalidJson("Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidObject("The request body must be a JSON object", errors=[
                error_entry([], "not of type 'object'", "type", "object")])
        values = await s.parse(ZoneImportJson, data)
        text = values["zonefile"]
    task = await service(request).create_zone_import(ctx, text, error=error)
    return _respond(request, task, 202)


def _respond(request: web.Request, task: dict[str, Any], status: int) -> web.Response:
    _links(request, task)
    headers = {"Location": task["links"]["self"]} if status == 202 else None
    return json_response(task, status, headers)


@routes.route("GET", "/v2/zones/tasks/imports", summary="List zone imports",
              responses={200: ZoneImportList}, errors=(400, 401),
              query=documented(TASK_SORT_KEYS, TASK_FILTERS))
async def list_imports(request: web.Request) -> web.Response:
    params, limit = list_params(request, sort_keys=TASK_SORT_KEYS, filters=TASK_FILTERS,
                                count=True)
    page = await service(request).list_zone_imports(context(request), params)
    body = list_body(request, "imports", page, limit, lambda i: import_href(request, i["id"]),
                     metadata=True)
    for item in body["imports"]:
        _links(request, item)
    return json_response(body)


@routes.route("GET", "/v2/zones/tasks/imports/{import_id}", summary="Show a zone import",
              responses={200: ZoneImport}, errors=(400, 401, 404))
async def get_import(request: web.Request) -> web.Response:
    task = await service(request).get_zone_import(context(request),
                                                  path_uuid(request, "import_id"))
    return _respond(request, task, 200)


@routes.route("DELETE", "/v2/zones/tasks/imports/{import_id}", summary="Delete a zone import",
              responses={204: None}, errors=(400, 401, 403, 404))
async def delete_import(request: web.Request) -> web.Response:
    """Forgets the task (the imported zone stays)."""
    await service(request).delete_zone_import(context(request), path_uuid(request, "import_id"))
    return web.Response(status=204)
