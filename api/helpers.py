"""What every handler needs: the app's service and settings, the request context, path ids,
JSON bodies in and out, and absolute links."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from api import schemas
from dnsaas.context import Context
from dnsaas.errors import (
    EmptyRequestBody,
    InvalidJson,
    InvalidObject,
    InvalidUUID,
    UnsupportedContentType,
    error_entry,
)
from dnsaas.service import Service
from dnsaas.settings import Settings

SERVICE = web.AppKey("service", Service)
SETTINGS = web.AppKey("settings", Settings)
SPECS = web.AppKey("specs", list)
PUBLIC_HANDLERS = web.AppKey("public_handlers", frozenset)

CTX = web.RequestKey("context", Context)
REQUEST_ID = web.RequestKey("request_id", str)
HIDE_COUNTS = web.RequestKey("hide_counts", bool)
SERIAL_HEADER = "X-Dnsaas-Serial"


def service(request: web.Request) -> Service:
    return request.app[SERVICE]


def settings(request: web.Request) -> Settings:
    return request.app[SETTINGS]


def context(request: web.Request) -> Context:
    """The request's context, built by the auth middleware."""
    return request[CTX]


def base_url(request: web.Request) -> str:
    """``scheme://host[:port]`` as the client addressed us (Designate's host-header links)."""
    return f"{request.scheme}://{request.host}"


def href(request: web.Request, *parts: str) -> str:
    """An absolute URL of an API path built from ``parts``."""
    return base_url(request) + "/".join(parts)


def path_uuid(request: web.Request, name: str) -> str:
    """A UUID path parameter in canonical form; malformed → 400 invalid_uuid."""
    value = request.match_info[name]
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidUUID(f"Invalid UUID {name}: {value}") from None


def _std_dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


try:
    import orjson
except ImportError:  # optional: the standard library writes the same bytes, slower
    dumps = _std_dumps
else:
    def dumps(body: Any) -> bytes:
        """Compact UTF-8 JSON (orjson; anything it refuses goes to the standard library)."""
        try:
            return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # orjson.JSONEncodeError, e.g. an int beyond 64 bits
            return _std_dumps(body)


def json_response(body: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response."""
    return web.Response(body=dumps(body), status=status, headers=headers,
                        content_type="application/json")


def with_links(obj: dict[str, Any], self_href: str) -> dict[str, Any]:
    obj["links"] = {"self": self_href}
    return obj


def object_response(obj: dict[str, Any], self_href: str, *, status: int = 200,
                    location: bool = False) -> web.Response:
    """One resource with its ``links``; ``_serial`` moves into the X-Dnsaas-Serial header and
    ``Location`` is set on creates."""
    headers: dict[str, str] = {}
    serial = obj.pop("_serial", None)
    if serial is not None:
        headers[SERIAL_HEADER] = str(serial)
    if location:
        headers["Location"] = self_href
    return json_response(with_links(obj, self_href), status, headers)


def pending_status(obj: dict[str, Any], done: int) -> int:
    """202 while a write is still propagating, else ``done`` (201 or 200)."""
    return 202 if obj.get("status") == "PENDING" else done


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object: 415, 400 empty_request_body, 400 invalid_json."""
    if request.content_type != "application/json":
        raise UnsupportedContentType("Content-type must be application/json")
    raw = await request.read()
    if not raw.strip():
        raise EmptyRequestBody("Request Body is empty")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidJson("Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidObject("The request body must be a JSON object",
                            errors=[error_entry([], f"{_short(data)} is not of type 'object'",
                                                "type", "object")])
    return data


async def read_body(request: web.Request, model: type[schemas.RequestModel],
                    current: Callable[[], Awaitable[dict[str, Any]]] | None = None
                    ) -> dict[str, Any]:
    """Read and validate a body against ``model``: the keys the client set, with read-only
    (and, on updates, immutable) keys dropped when equal to ``current()``."""
    return await schemas.parse(model, await read_json(request), current)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
