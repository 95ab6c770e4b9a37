"""Zones (designate-api.md §1.1)."""

from __future__ import annotations

from aiohttp import web

from api import schemas as s
from api.helpers import (
    SERIAL_HEADER,
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
from dnsaas.service.zones import ZONE_FILTERS, ZONE_SORT_KEYS

routes = RouteTable("zones", "DNS zones owned by a project")

SERIAL = ("X-Dnsaas-Serial",)


def zone_href(request: web.Request, zone_id: str) -> str:
    return href(request, "/v2/zones", zone_id)


def _zone_response(request: web.Request, zone: dict, done: int,
                   location: bool = False) -> web.Response:
    response = object_response(zone, zone_href(request, zone["id"]),
                               status=pending_status(zone, done), location=location)
    response.headers[SERIAL_HEADER] = str(zone["serial"])
    return response


@routes.route("POST", "/v2/zones", summary="Create a zone", body=s.ZoneCreate,
              responses={202: s.Zone, 201: s.Zone}, errors=(400, 401, 403, 409, 413),
              response_headers=SERIAL)
async def create_zone(request: web.Request) -> web.Response:
    """Creates the zone with its SOA and NS recordsets; 202 while it propagates."""
    values = await read_body(request, s.ZoneCreate)
    zone = await service(request).create_zone(context(request), values)
    return _zone_response(request, zone, 201, location=True)


@routes.route("GET", "/v2/zones", summary="List zones", responses={200: s.ZoneList},
              errors=(400, 401), query=documented(ZONE_SORT_KEYS, ZONE_FILTERS))
async def list_zones(request: web.Request) -> web.Response:
    """The project's zones (every project's with all-projects)."""
    params, limit = list_params(request, sort_keys=ZONE_SORT_KEYS, filters=ZONE_FILTERS,
                                count=True)
    page = await service(request).list_zones(context(request), params)
    return json_response(list_body(request, "zones", page, limit,
                                   lambda z: zone_href(request, z["id"]), metadata=True))


@routes.route("GET", "/v2/zones/{zone_id}", summary="Show a zone", responses={200: s.Zone},
              errors=(400, 401, 404))
async def get_zone(request: web.Request) -> web.Response:
    zone_id = path_uuid(request, "zone_id")
    zone = await service(request).get_zone(context(request), zone_id)
    return object_response(zone, zone_href(request, zone_id))


@routes.route("PATCH", "/v2/zones/{zone_id}", summary="Update a zone", body=s.ZoneUpdate,
              responses={202: s.Zone, 200: s.Zone}, errors=(400, 401, 403, 404),
              response_headers=SERIAL)
async def update_zone(request: web.Request) -> web.Response:
    """email, ttl, description, masters (SECONDARY) and attributes; 202 while it propagates."""
    zone_id = path_uuid(request, "zone_id")
    ctx, svc = context(request), service(request)
    values = await read_body(request, s.ZoneUpdate, lambda: svc.get_zone(ctx, zone_id))
    zone = await svc.update_zone(ctx, zone_id, values)
    return _zone_response(request, zone, 200)


@routes.route("DELETE", "/v2/zones/{zone_id}", summary="Delete a zone",
              responses={202: s.Zone}, errors=(400, 401, 403, 404), response_headers=SERIAL,
              headers=("X-Designate-Hard-Delete", "X-Designate-Delete-Shares"))
async def delete_zone(request: web.Request) -> web.Response:
    """Marks the zone PENDING DELETE; it is removed from the nameservers, then 404s."""
    zone_id = path_uuid(request, "zone_id")
    zone = await service(request).delete_zone(context(request), zone_id)
    return _zone_response(request, zone, 202)


@routes.route("GET", "/v2/zones/{zone_id}/nameservers", summary="List a zone's nameservers",
              responses={200: s.NameserverList}, errors=(400, 401, 404))
async def zone_nameservers(request: web.Request) -> web.Response:
    """The NS records of the zone's pool."""
    zone_id = path_uuid(request, "zone_id")
    servers = await service(request).zone_nameservers(context(request), zone_id)
    return json_response({"nameservers": servers})
