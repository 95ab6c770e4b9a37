"""Route tables. Each resource module declares its routes once, with the metadata that the
OpenAPI document is generated from, so the router and the document cannot drift apart."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PATH_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class QueryParam:
    """A documented query parameter."""

    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One method on one path, and what OpenAPI needs to know about it."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    responses: dict[int, type[BaseModel] | None]
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    query: tuple[QueryParam, ...] = ()
    public: bool = False
    admin: bool = False
    headers: tuple[str, ...] = ()
    response_headers: tuple[str, ...] = ()
    content_type: str = "application/json"
    description: str = ""
    own_body_limit: bool = False  # the handler reads the body itself, with its own limit

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)


class RouteTable:
    """The routes of one resource (one OpenAPI tag)."""

    def __init__(self, tag: str, description: str = ""):
        self.tag = tag
        self.description = description
        self.specs: list[RouteSpec] = []

    def route(self, method: str, path: str, *, summary: str,
              responses: dict[int, type[BaseModel] | None], body: type[BaseModel] | None = None,
              errors: tuple[int, ...] = (), query: tuple[QueryParam, ...] = (),
              public: bool = False, admin: bool = False, headers: tuple[str, ...] = (),
              response_headers: tuple[str, ...] = (), content_type: str = "application/json",
              description: str = "", own_body_limit: bool = False
              ) -> Callable[[Handler], Handler]:
        """Register the decorated handler for ``method path``. ``headers`` are the special
        request headers it honours, ``response_headers`` the extra ones it sends."""
        def deco(fn: Handler) -> Handler:
            self.specs.append(RouteSpec(method, path, fn, summary, self.tag, responses, body,
                                        errors, query, public, admin, headers,
                                        response_headers, content_type,
                                        description or (fn.__doc__ or "").strip(),
                                        own_body_limit))
            return fn
        return deco


def all_tables() -> list[RouteTable]:
    """Every resource's route table, in documentation order."""
    from api.routes import (
        blacklists,
        docs,
        exports,
        imports,
        limits,
        pools,
        quotas,
        recordsets,
        service_statuses,
        shares,
        tlds,
        transfers,
        tsigkeys,
        versions,
        zone_tasks,
        zones,
    )
    return [versions.routes, zones.routes, recordsets.routes, tsigkeys.routes, pools.routes,
            tlds.routes, blacklists.routes, quotas.routes, limits.routes,
            service_statuses.routes, imports.routes, exports.routes, transfers.routes,
            shares.routes, zone_tasks.routes, docs.routes]


def install(app: web.Application, tables: list[RouteTable]) -> list[RouteSpec]:
    """Add every route to the app's router, one resource per path (its methods share one
    pattern match), then every path again with a trailing slash, which Designate strips;
    returns the specs.

    aiohttp tries the patterns that share a literal prefix (``/v2/zones``) one by one in
    registration order, so the canonical paths go first, in the tables' order (the busiest
    resources are declared first), and the slash variants after them."""
    specs = [spec for table in tables for spec in table.specs]
    by_path: dict[str, list[RouteSpec]] = {}
    for spec in specs:
        by_path.setdefault(spec.path, []).append(spec)
    for suffix in ("", "/"):
        for path, path_specs in by_path.items():
            if suffix and path == "/":
                continue
            resource = app.router.add_resource(path + suffix)
            for spec in path_specs:
                resource.add_route(spec.method, spec.handler)
    return specs
