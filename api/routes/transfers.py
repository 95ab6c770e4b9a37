"""Zone ownership transfer (designate-api.md §1.7): requests and accepts."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from api import schemas as s
from api.helpers import context, href, json_response, path_uuid, read_body, read_json, service
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.service.transfers import TRANSFER_FILTERS, TRANSFER_SORT_KEYS

routes = RouteTable("transfers", "Zone ownership transfer between projects")


class TransferRequestCreate(s.RequestModel):
    RESOURCE = "zone_transfer_request"
    READ_ONLY = frozenset({"id", "zone_id", "zone_name", "key", "project_id", "status",
                           "created_at", "updated_at", "version", "links"})
    target_project_id: str | None = Field(None, description="Only this project may accept; "
                                          "null: anyone with the key")
    description: str | None = s.DESCRIPTION


class TransferRequestUpdate(s.RequestModel):
    RESOURCE = "zone_transfer_request"
    READ_ONLY = frozenset({"id", "zone_name", "key", "project_id", "status", "created_at",
                           "updated_at", "version", "links"})
    description: str | None = s.DESCRIPTION
    target_project_id: str | None = Field(None, description="Immutable once set")
    zone_id: str | None = Field(None, description="Immutable")


class TransferAcceptCreate(s.RequestModel):
    RESOURCE = "zone_transfer_accept"
    key: str = Field(description="The key of the transfer request")
    zone_transfer_request_id: str = Field(json_schema_extra=s.UUID_FORMAT)


class TransferRequest(s.ResponseModel):
    """Non-owners see only id, zone_id, zone_name, description, status and links."""

    id: str = Field(json_schema_extra=s.UUID_FORMAT)
    zone_id: str = Field(json_schema_extra=s.UUID_FORMAT)
    zone_name: str
    description: str | None
    status: str = Field(json_schema_extra={"enum": ["ACTIVE", "COMPLETE"]})
    key: str | None = Field(None, description="8 characters from A-Z and 0-9 (owner only)")
    project_id: str | None = None
    target_project_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    version: int | None = None
    links: s.Links


class TransferRequestList(s.ResponseModel):
    transfer_requests: list[TransferRequest]
    links: s.ListLinks


class AcceptLinks(s.ResponseModel):
    self_: str = Field(alias="self")
    zone: str


class TransferAccept(s.ResponseModel):
    id: str = Field(json_schema_extra=s.UUID_FORMAT)
    zone_transfer_request_id: str = Field(json_schema_extra=s.UUID_FORMAT)
    zone_id: str = Field(json_schema_extra=s.UUID_FORMAT)
    project_id: str
    key: str
    status: str = Field(json_schema_extra={"enum": ["COMPLETE", "ERROR"]})
    created_at: str
    updated_at: str | None
    version: int
    links: AcceptLinks


class TransferAcceptList(s.ResponseModel):
    transfer_accepts: list[TransferAccept]
    links: s.ListLinks
    metadata: s.Metadata


def request_href(request: web.Request, rid: str) -> str:
    return href(request, "/v2/zones/tasks/transfer_requests", rid)


def accept_href(request: web.Request, aid: str) -> str:
    return href(request, "/v2/zones/tasks/transfer_accepts", aid)


def _accept_links(request: web.Request, item: dict[str, Any]) -> dict[str, Any]:
    item["links"] = {"self": accept_href(request, item["id"]),
                     "zone": href(request, "/v2/zones", item["zone_id"])}
    return item


async def _optional_body(request: web.Request, model: type[s.RequestModel]) -> dict[str, Any]:
    """An empty body is allowed (``{}``)."""
    if not request.can_read_body or request.content_length == 0:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    return await s.parse(model, await read_json(request))


@routes.route("POST", "/v2/zones/{zone_id}/tasks/transfer_requests",
              summary="Offer a zone to another project", body=TransferRequestCreate,
              responses={201: TransferRequest}, errors=(400, 401, 403, 404))
async def create_transfer_request(request: web.Request) -> web.Response:
    """The body may be empty. Only the zone owner may do this."""
    zone_id = path_uuid(request, "zone_id")
    values = await _optional_body(request, TransferRequestCreate)
    out = await service(request).create_transfer_request(context(request), zone_id, values)
    self_href = request_href(request, out["id"])
    out["links"] = {"self": self_href}
    return json_response(out, 201, {"Location": self_href})


@routes.route("GET", "/v2/zones/tasks/transfer_requests", summary="List transfer requests",
              responses={200: TransferRequestList}, errors=(400, 401),
              query=documented(TRANSFER_SORT_KEYS, TRANSFER_FILTERS))
async def list_transfer_requests(request: web.Request) -> web.Response:
    """Requests of the caller's zones and requests targeted at the caller's project."""
    params, limit = list_params(request, sort_keys=TRANSFER_SORT_KEYS,
                                filters=TRANSFER_FILTERS, count=False)
    page = await service(request).list_transfer_requests(context(request), params)
    return json_response(list_body(request, "transfer_requests", page, limit,
                                   lambda r: request_href(request, r["id"]), metadata=False))


@routes.route("GET", "/v2/zones/tasks/transfer_requests/{request_id}",
              summary="Show a transfer request", responses={200: TransferRequest},
              errors=(400, 401, 404))
async def get_transfer_request(request: web.Request) -> web.Response:
    rid = path_uuid(request, "request_id")
    out = await service(request).get_transfer_request(context(request), rid)
    out["links"] = {"self": request_href(request, rid)}
    return json_response(out)


@routes.route("PATCH", "/v2/zones/tasks/transfer_requests/{request_id}",
              summary="Update a transfer request", body=TransferRequestUpdate,
              responses={200: TransferRequest}, errors=(400, 401, 403, 404))
async def update_transfer_request(request: web.Request) -> web.Response:
    """description; target_project_id only while unset."""
    rid = path_uuid(request, "request_id")
    ctx, svc = context(request), service(request)
    values = await read_body(request, TransferRequestUpdate,
                             lambda: svc.get_transfer_request(ctx, rid))
    out = await svc.update_transfer_request(ctx, rid, values)
    out["links"] = {"self": request_href(request, rid)}
    return json_response(out)


@routes.route("DELETE", "/v2/zones/tasks/transfer_requests/{request_id}",
              summary="Delete a transfer request", responses={204: None},
              errors=(400, 401, 403, 404))
async def delete_transfer_request(request: web.Request) -> web.Response:
    await service(request).delete_transfer_request(context(request),
                                                   path_uuid(request, "request_id"))
    return web.Response(status=204)


@routes.route("POST", "/v2/zones/tasks/transfer_accepts", summary="Accept a zone transfer",
              body=TransferAcceptCreate, responses={201: TransferAccept},
              errors=(400, 401, 403, 404, 413))
async def create_transfer_accept(request: web.Request) -> web.Response:
    """With the request's key: the caller's project becomes the zone's owner. A wrong key is
    403 `invalid_key` and changes nothing."""
    values = await read_body(request, TransferAcceptCreate)
    out = _accept_links(request, await service(request).accept_transfer(context(request),
                                                                        values))
    return json_response(out, 201, {"Location": out["links"]["self"]})


@routes.route("GET", "/v2/zones/tasks/transfer_accepts", summary="List transfer accepts",
              responses={200: TransferAcceptList}, errors=(400, 401, 403), admin=True,
              query=documented(TRANSFER_SORT_KEYS, TRANSFER_FILTERS))
async def list_transfer_accepts(request: web.Request) -> web.Response:
    params, limit = list_params(request, sort_keys=TRANSFER_SORT_KEYS,
                                filters=TRANSFER_FILTERS, count=True)
    page = await service(request).list_transfer_accepts(context(request), params)
    body = list_body(request, "transfer_accepts", page, limit,
                     lambda a: accept_href(request, a["id"]), metadata=True)
    for item in body["transfer_accepts"]:
        _accept_links(request, item)
    return json_response(body)


@routes.route("GET", "/v2/zones/tasks/transfer_accepts/{accept_id}",
              summary="Show a transfer accept", responses={200: TransferAccept},
              errors=(400, 401, 404))
async def get_transfer_accept(request: web.Request) -> web.Response:
    aid = path_uuid(request, "accept_id")
    out = await service(request).get_transfer_accept(context(request), aid)
    return json_response(_accept_links(request, out))
