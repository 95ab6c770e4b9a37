"""Recordsets (designate-api.md §1.2), per zone and across zones."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import (
    HIDE_COUNTS,
    context,
    href,
    json_response,
    object_response,
    path_uuid,
    pending_status,
    read_body,
    service,
)
from api.paging import documented, list_body, list_params
from api.routes import RouteTable
from dnsaas.service.recordsets import (
    ALL_RECORDSETS_FILTERS,
    ALL_RECORDSETS_SORT_KEYS,
    RECORDSET_FILTERS,
    RECORDSET_SORT_KEYS,
)

routes = RouteTable("recordsets", "Recordsets of a zone")

SERIAL = ("X-Dnsaas-Serial",)
EDIT_MANAGED = ("X-Designate-Edit-Managed-Records",)
LIST_HEADERS = ("OpenStack-DNS-Hide-Counts",)


def rs_href(request: web.Request, zone_id: str, rs_id: str) -> str:
    return href(request, "/v2/zones", zone_id, "recordsets", rs_id)


@routes.route("POST", "/v2/zones/{zone_id}/recordsets", summary="Create a recordset",
              body=s.RecordsetCreate, responses={202: s.Recordset, 201: s.Recordset},
              errors=(400, 401, 403, 404, 409, 413), response_headers=SERIAL)
async def create_recordset(request: web.Request) -> web.Response:
    """Adds the recordset and bumps the zone serial (sent in ``X-Dnsaas-Serial``)."""
    zone_id = path_uuid(request, "zone_id")
    values = await read_body(request, s.RecordsetCreate)
    rs = await service(request).create_recordset(context(request), zone_id, values)
    return object_response(rs, rs_href(request, zone_id, rs["id"]),
                           status=pending_status(rs, 201), location=True)


@routes.route("GET", "/v2/zones/{zone_id}/recordsets", summary="List a zone's recordsets",
              responses={200: s.RecordsetList}, errors=(400, 401, 404), headers=LIST_HEADERS,
              query=documented(RECORDSET_SORT_KEYS, RECORDSET_FILTERS))
async def list_recordsets(request: web.Request) -> web.Response:
    """Includes the managed SOA and apex NS recordsets."""
    zone_id = path_uuid(request, "zone_id")
    params, limit = list_params(request, sort_keys=RECORDSET_SORT_KEYS,
                                filters=RECORDSET_FILTERS, count=not request.get(HIDE_COUNTS, False))
    page = await service(request).list_recordsets(context(request), zone_id, params)
    prefix = rs_href(request, zone_id, "")  # every item is in this zone
    return json_response(list_body(request, "recordsets", page, limit,
                                   lambda r: prefix + r["id"], metadata=True))


@routes.route("GET", "/v2/zones/{zone_id}/recordsets/{recordset_id}", summary="Show a recordset",
              responses={200: s.Recordset}, errors=(400, 401, 404))
async def get_recordset(request: web.Request) -> web.Response:
    zone_id, rs_id = path_uuid(request, "zone_id"), path_uuid(request, "recordset_id")
    rs = await service(request).get_recordset(context(request), zone_id, rs_id)
    return object_response(rs, rs_href(request, zone_id, rs_id))


@routes.route("PUT", "/v2/zones/{zone_id}/recordsets/{recordset_id}",
              summary="Update a recordset", body=s.RecordsetUpdate,
              responses={202: s.Recordset, 200: s.Recordset}, errors=(400, 401, 403, 404, 413),
              response_headers=SERIAL, headers=EDIT_MANAGED)
async def update_recordset(request: web.Request) -> web.Response:
    """Replaces records (unchanged ones keep their rows), ttl and description."""
    zone_id, rs_id = path_uuid(request, "zone_id"), path_uuid(request, "recordset_id")
    ctx, svc = context(request), service(request)
    values = await read_body(request, s.RecordsetUpdate,
                             lambda: svc.get_recordset(ctx, zone_id, rs_id))
    rs = await svc.update_recordset(ctx, zone_id, rs_id, values)
    return object_response(rs, rs_href(request, zone_id, rs_id), status=pending_status(rs, 200))


@routes.route("DELETE", "/v2/zones/{zone_id}/recordsets/{recordset_id}",
              summary="Delete a recordset", responses={202: s.Recordset},
              errors=(400, 401, 403, 404), response_headers=SERIAL, headers=EDIT_MANAGED)
async def delete_recordset(request: web.Request) -> web.Response:
    """The body shows the recordset PENDING DELETE."""
    zone_id, rs_id = path_uuid(request, "zone_id"), path_uuid(request, "recordset_id")
    rs = await service(request).delete_recordset(context(request), zone_id, rs_id)
    return object_response(rs, rs_href(request, zone_id, rs_id), status=202)


@routes.route("GET", "/v2/recordsets", summary="List recordsets across zones",
              responses={200: s.RecordsetList}, errors=(400, 401), headers=LIST_HEADERS,
              query=documented(ALL_RECORDSETS_SORT_KEYS, ALL_RECORDSETS_FILTERS))
async def list_all_recordsets(request: web.Request) -> web.Response:
    """Every recordset visible to the project."""
    params, limit = list_params(request, sort_keys=ALL_RECORDSETS_SORT_KEYS,
                                filters=ALL_RECORDSETS_FILTERS, count=not request.get(HIDE_COUNTS, False))
    page = await service(request).list_recordsets(context(request), None, params)
    return json_response(list_body(request, "recordsets", page, limit,
                                   lambda r: rs_href(request, r["zone_id"], r["id"]),
                                   metadata=True))


@routes.route("GET", "/v2/recordsets/{recordset_id}", summary="Find a recordset's zone",
              responses={301: None}, errors=(400, 401, 404))
async def redirect_recordset(request: web.Request) -> web.Response:
    """301 to ``/v2/zones/{zone_id}/recordsets/{recordset_id}``."""
    rs_id = path_uuid(request, "recordset_id")
    zone_id = await service(request).find_recordset_zone(context(request), rs_id)
    return web.Response(status=301, headers={"Location": rs_href(request, zone_id, rs_id)})
