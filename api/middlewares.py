"""The middleware chain, outermost first: request id, errors → Designate's body, request checks
(body size, Accept), authentication and the request context."""

from __future__ import annotations

import asyncio
import logging
from random import getrandbits
from typing import Any

from aiohttp import web
from sqlalchemy import exc as sa_exc

from api.auth import Authenticator, bool_from_string, build_context
from api.helpers import CTX, HIDE_COUNTS, REQUEST_ID, SETTINGS, dumps
from api.routes import RouteSpec
from dnsaas import errors as e

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-openstack-request-id"
RETRY_AFTER_SECONDS = 5

AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
SPEC_BY_HANDLER = web.AppKey("spec_by_handler", dict)


class UnknownError(e.DnsaasError):
    """An unknown error occurred"""

    code, type, expected = 500, "unknown", False


# --- request id -----------------------------------------------------------------------------
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def request_id() -> str:
    """``req-`` and a random version-4 UUID. A request id is a label, not a secret: it comes
    from ``random`` (reseeded in every forked worker) without a syscall or a UUID object."""
    h = f"{getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"
    return f"req-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every response carries ``x-openstack-request-id: req-<uuid>``."""
    rid = request_id()
    request[REQUEST_ID] = rid
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:  # only non-errors get here (the error middleware is inside)
        exc.headers[REQUEST_ID_HEADER] = rid
        raise
    response.headers[REQUEST_ID_HEADER] = rid
    return response


# --- errors ---------------------------------------------------------------------------------
def error_response(request: web.Request, exc: e.DnsaasError) -> web.Response:
    """Designate's error body: ``code``, ``type``, ``message``, ``errors?``, ``request_id``."""
    body = exc.body()
    body["request_id"] = request.get(REQUEST_ID)
    headers = {}
    if exc.code == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return web.Response(body=dumps(body), status=exc.code, headers=headers,
                        content_type="application/json")


_HTTP_ERRORS: dict[int, type[e.DnsaasError]] = {
    404: e.NotFound, 405: e.MethodNotAllowed, 413: e.RequestTooLarge, 406: e.UnsupportedAccept,
    415: e.UnsupportedContentType,
}


def _from_http(exc: web.HTTPException) -> e.DnsaasError:
    cls = _HTTP_ERRORS.get(exc.status)
    if cls is e.NotFound:
        return e.NotFound("The resource could not be found.")
    if cls is not None:
        return cls()
    generic = type("HTTPError", (e.DnsaasError,), {"code": exc.status, "type": (
        exc.reason or "error").lower().replace(" ", "_")})
    return generic(exc.reason)


def db_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) means the database cannot be reached."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (ConnectionError, TimeoutError, asyncio.TimeoutError,
                            sa_exc.TimeoutError, sa_exc.InterfaceError)):
            return True
        if isinstance(cur, OSError) and not isinstance(cur, (FileNotFoundError,
                                                             PermissionError)):
            return True
        if isinstance(cur, sa_exc.DBAPIError):
            if cur.connection_invalidated:
                return True
            text = str(cur.orig or "").lower()
            if "unable to open database" in text or "disk i/o error" in text:
                return True
            name = type(cur.orig).__name__
            if name in ("CannotConnectNowError", "ConnectionDoesNotExistError",
                        "TooManyConnectionsError", "ConnectionFailureError",
                        "AdminShutdownError", "CrashShutdownError"):
                return True
        cur = cur.__cause__ or cur.__context__
    return False


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Typed errors become Designate's body; anything unexpected a logged 500 ``unknown``; an
    unreachable database a 503 with Retry-After."""
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except e.DnsaasError as exc:
        if not exc.expected:
            log.error("%s %s: %s", request.method, request.path, exc.message)
        return error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(request, _from_http(exc))
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if db_unavailable(exc):
            log.warning("%s %s: database unavailable: %s", request.method, request.path, exc)
            return error_response(request, e.ServiceUnavailable())
        log.exception("unexpected error in %s %s (%s)", request.method, request.path,
                      request.get(REQUEST_ID))
        return error_response(request, UnknownError())


# --- request checks -------------------------------------------------------------------------
def accepts_json(accept: str | None) -> bool:
    """Whether an Accept header allows ``application/json``."""
    if not accept or not accept.strip():
        return True
    for part in accept.split(","):
        media, *params = part.split(";")
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media.strip().lower() in ("*/*", "application/*", "application/json"):
            return True
    return False


@web.middleware
async def checks_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """413 for bodies over the limit (before reading them); 406 when JSON is not acceptable."""
    limit = request.app[SETTINGS].max_request_body
    spec: RouteSpec | None = request.app[SPEC_BY_HANDLER].get(request.match_info.handler)
    own_limit = spec is not None and spec.own_body_limit
    if not own_limit and request.content_length is not None and request.content_length > limit:
        raise e.RequestTooLarge(f"Request body is larger than {limit} bytes")
    json_route = spec is None or spec.content_type == "application/json"
    if json_route and not accepts_json(request.headers.get("Accept")):
        raise e.UnsupportedAccept(f"Unsupported Accept header {request.headers['Accept']!r}")
    return await handler(request)  # type: ignore[no-any-return]


# --- authentication -------------------------------------------------------------------------
@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Identity → Context in ``request[CTX]``; 401 without valid credentials; a bare 403 when a
    non-admin uses a privileged header (as Designate's context middleware)."""
    spec: RouteSpec | None = request.app[SPEC_BY_HANDLER].get(request.match_info.handler)
    if spec is not None and spec.public:
        return await handler(request)  # type: ignore[no-any-return]
    identity = await request.app[AUTHENTICATOR].identify(request)
    ctx = build_context(identity, request, request[REQUEST_ID])
    if ctx is None:
        return web.Response(status=403)
    if not ctx.roles:
        raise e.Forbidden("The caller has none of the roles admin, member or reader")
    request[CTX] = ctx
    request[HIDE_COUNTS] = bool_from_string(request.headers.get("OpenStack-DNS-Hide-Counts"))
    return await handler(request)  # type: ignore[no-any-return]


def chain() -> list[Any]:
    """The middlewares, outermost first."""
    return [request_id_middleware, error_middleware, checks_middleware, auth_middleware]
