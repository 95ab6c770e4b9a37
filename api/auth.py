"""Who is calling: ``DNSAAS_AUTH=token`` (``X-Auth-Token`` looked up in the API-token table) or
``noauth`` (identity from headers, as Designate's NoAuthContextMiddleware), and the request
context built from that identity plus Designate's privileged headers (designate-api.md §0.3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from dnsaas.context import Context
from dnsaas.errors import Unauthorized
from dnsaas.service import Service
from dnsaas.service.tokens import ROLES, hash_token

# A token lookup is cached this long in the API process; a revoked token stops working
# within this many seconds (an expired one immediately: expiry is checked on every use).
TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_MAX = 10_000

TRUE_STRINGS = frozenset({"1", "t", "true", "on", "y", "yes"})


def bool_from_string(value: str | None) -> bool:
    """oslo's ``strutils.bool_from_string`` (non-strict): anything else is False."""
    return value is not None and value.strip().lower() in TRUE_STRINGS


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated caller."""

    project_id: str | None
    user_id: str | None
    roles: frozenset[str]


class Authenticator:
    """Turns a request into an :class:`Identity` or raises 401."""

    async def identify(self, request: web.Request) -> Identity:
        raise NotImplementedError


class NoAuth(Authenticator):
    """Designate's noauth pipeline: trust ``X-Auth-Project-ID``, ``X-Auth-User-ID`` and
    ``X-Roles`` (defaults ``noauth-project``, ``noauth-user``, ``admin``)."""

    async def identify(self, request: web.Request) -> Identity:
        h = request.headers
        roles = frozenset(r.strip() for r in h.get("X-Roles", "admin").split(",") if r.strip())
        return Identity(h.get("X-Auth-Project-ID", "noauth-project"),
                        h.get("X-Auth-User-ID", "noauth-user"), roles)


class TokenAuth(Authenticator):
    """``X-Auth-Token`` looked up (by SHA-256 hash, compared in constant time) in the
    ``api_tokens`` table, with a short in-process cache."""

    def __init__(self, service: Service, cache_seconds: float = TOKEN_CACHE_SECONDS):
        self.service = service
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, float | None, Identity]] = {}

    async def identify(self, request: web.Request) -> Identity:
        token = request.headers.get("X-Auth-Token", "")
        if not token:
            raise Unauthorized("Authentication required: send an X-Auth-Token header")
        key = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None:
            fetched, expires, identity = hit
            if now - fetched < self.cache_seconds and (expires is None or time.time() < expires):
                return identity
            del self._cache[key]
        row = await self.service.lookup_token(token)
        if row is None:
            raise Unauthorized("The request you have made requires authentication")
        identity = Identity(row["project_id"], row["user_id"], frozenset(row["roles"]))
        expires_at = None
        if row["expires_at"] is not None:
            expires_at = datetime.strptime(row["expires_at"], "%Y-%m-%dT%H:%M:%S.%f").replace(
                tzinfo=UTC).timestamp()
        if len(self._cache) >= TOKEN_CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (now, expires_at, identity)
        return identity


def authenticator_for(mode: str, service: Service) -> Authenticator:
    """The authenticator for ``DNSAAS_AUTH``."""
    if mode == "noauth":
        return NoAuth()
    if mode == "token":
        return TokenAuth(service)
    raise ValueError(f"unknown auth mode {mode!r}")


def build_context(identity: Identity, request: web.Request, request_id: str) -> Context | None:
    """The request context; None when a non-admin sends a privileged header or parameter
    (Designate answers that with a bare 403)."""
    h, q = request.headers, request.query
    sudo = h.get("X-Auth-Sudo-Project-ID") or h.get("X-Auth-Sudo-Tenant-ID") or None
    all_projects = bool_from_string(h.get("X-Auth-All-Projects"))
    for name in ("all_projects", "all_tenants"):
        if name in q:
            all_projects = bool_from_string(q[name])
    if "edit_managed_records" in q:
        edit_managed = bool_from_string(q["edit_managed_records"])
    else:
        edit_managed = bool_from_string(h.get("X-Designate-Edit-Managed-Records"))
    hard_delete = bool_from_string(h.get("X-Designate-Hard-Delete"))
    delete_shares = bool_from_string(h.get("X-Designate-Delete-Shares"))
    roles = identity.roles & frozenset(ROLES)
    if "admin" not in roles and (sudo or all_projects or edit_managed or hard_delete):
        return None
    return Context(project_id=identity.project_id, user_id=identity.user_id, roles=roles,
                   all_projects=all_projects, sudo_project_id=sudo, edit_managed=edit_managed,
                   hard_delete=hard_delete, delete_shares=delete_shares, request_id=request_id)
