"""Shared zones (designate-api.md §1.8)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from api import schemas as s
from api.helpers import context, href, json_response, path_uuid, read_body, service
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.service.shares import SHARE_FILTERS, SHARE_SORT_KEYS

routes = RouteTable("shares", "Zones shared with other projects")


class ShareCreate(s.RequestModel):
    RESOURCE = "shared_zone"
    target_project_id: str = Field(description="The project to share the zone with",
                                   max_length=255)


class ShareLinks(s.ResponseModel):
    self_: str = Field(alias="self")
    zone: str


class Share(s.ResponseModel):
    id: str = Field(json_schema_extra=s.UUID_FORMAT)
    zone_id: str = Field(json_schema_extra=s.UUID_FORMAT)
    project_id: str = Field(description="The sharing (owner) project")
    target_project_id: str
    created_at: str = Field(description=s.TIMESTAMP)
    updated_at: str | None = Field(description=s.TIMESTAMP)
    links: ShareLinks


class ShareList(s.ResponseModel):
    shared_zones: list[Share]
    links: s.ListLinks


def share_href(request: web.Request, zone_id: str, share_id: str) -> str:
    return href(request, "/v2/zones", zone_id, "shares", share_id)


def _links(request: web.Request, item: dict[str, Any]) -> dict[str, Any]:
    item["links"] = {"self": share_href(request, item["zone_id"], item["id"]),
                     "zone": href(request, "/v2/zones", item["zone_id"])}
    return item


@routes.route("POST", "/v2/zones/{zone_id}/shares", summary="Share a zone", body=ShareCreate,
              responses={201: Share}, errors=(400, 401, 403, 404, 409))
async def create_share(request: web.Request) -> web.Response:
    """The target project may then read the zone and manage recordsets in it."""
    zone_id = path_uuid(request, "zone_id")
    values = await read_body(request, ShareCreate)
    out = _links(request, await service(request).create_share(context(request), zone_id, values))
    return json_response(out, 201, {"Location": out["links"]["self"]})


@routes.route("GET", "/v2/zones/{zone_id}/shares", summary="List a zone's shares",
              responses={200: ShareList}, errors=(400, 401, 404),
              query=documented(SHARE_SORT_KEYS, SHARE_FILTERS))
async def list_shares(request: web.Request) -> web.Response:
    zone_id = path_uuid(request, "zone_id")
    params, limit = list_params(request, sort_keys=SHARE_SORT_KEYS, filters=SHARE_FILTERS,
                                count=False)
    page = await service(request).list_shares(context(request), zone_id, params)
    body = list_body(request, "shared_zones", page, limit,
                     lambda i: share_href(request, zone_id, i["id"]), metadata=False)
    for item in body["shared_zones"]:
        _links(request, item)
    return json_response(body)


@routes.route("GET", "/v2/zones/{zone_id}/shares/{share_id}", summary="Show a share",
              responses={200: Share}, errors=(400, 401, 404))
async def get_share(request: web.Request) -> web.Response:
    zone_id, share_id = path_uuid(request, "zone_id"), path_uuid(request, "share_id")
    out = await service(request).get_share(context(request), zone_id, share_id)
    return json_response(_links(request, out))


@routes.route("DELETE", "/v2/zones/{zone_id}/shares/{share_id}", summary="Unshare a zone",
              responses={204: None}, errors=(400, 401, 403, 404))
async def delete_share(request: web.Request) -> web.Response:
    """400 while the target project still owns recordsets in the zone or zones below it."""
    zone_id, share_id = path_uuid(request, "zone_id"), path_uuid(request, "share_id")
    await service(request).delete_share(context(request), zone_id, share_id)
    return web.Response(status=204)
