"""A small synchronous REST client for the CLI (``dnsaas zone``, ``dnsaas recordset``, harness).

Standard library only (urllib), so it works wherever dnsaas is installed. Every failure is a
:class:`ClientError` with one readable line: wrong URL, refused connection, bad token (401),
unknown zone or recordset (404), Designate error bodies (``type: message``).

The endpoint and token come from arguments or the environment: ``DNSAAS_URL`` (default
``http://127.0.0.1:9001``; a trailing ``/v2`` is accepted) and ``DNSAAS_TOKEN`` or ``OS_TOKEN``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dnsaas.errors import DnsaasError

DEFAULT_URL = "http://127.0.0.1:9001"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

__all__ = ["DEFAULT_URL", "Client", "ClientError", "Response", "is_uuid", "fqdn"]


class ClientError(DnsaasError):
    """The API could not be reached or refused the request. ``status`` is the HTTP code or 0."""

    code, type = 0, "client_error"

    def __init__(self, message: str, status: int = 0, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body_json = body


@dataclass
class Response:
    """An answer from the API: HTTP status, headers (lower-case keys) and the decoded body."""

    status: int
    headers: dict[str, str]
    body: Any


def is_uuid(value: str) -> bool:
    """True if ``value`` looks like a hyphenated UUID (an id rather than a name)."""
    return bool(UUID_RE.match(value))


def fqdn(name: str) -> str:
    """``name`` with a trailing dot."""
    return name if name.endswith(".") else name + "."


def _base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url.endswith("/v2"):
        url = url[: -len("/v2")]
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"invalid API URL {url!r}: expected http://HOST:PORT (e.g. {DEFAULT_URL})")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ClientError(f"invalid API URL {url!r}: bad port") from None
    return url


def _error_line(status: int, body: Any, what: str) -> str:
    if isinstance(body, Mapping) and body.get("message"):
        text = f"{body.get('type') or status}: {body['message']}"
        nested = (body.get("errors") or {}).get("errors") if isinstance(body.get("errors"), Mapping) else None
        if nested:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e.get('path', [])) or '(body)'}: {e.get('message')}"
                for e in nested if isinstance(e, Mapping))
            text += f" ({details})"
        return f"{what} failed ({status} {text})"
    return f"{what} failed (HTTP {status})"


class Client:
    """Talks to the dnsaas (Designate v2) REST API."""

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 project: str | None = None, all_projects: bool = False,
                 timeout: float = 30.0) -> None:
        self.url = _base_url(url or os.environ.get("DNSAAS_URL") or DEFAULT_URL)
        self.token = token or os.environ.get("DNSAAS_TOKEN") or os.environ.get("OS_TOKEN")
        self.project = project
        self.all_projects = all_projects
        self.timeout = timeout

    # -- plumbing ------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, *, query: Mapping[str, Any] | None = None,
                content_type: str = "application/json", accept: str = "application/json",
                what: str | None = None, ok: tuple[int, ...] = ()) -> Response:
        """One HTTP call; returns the response for 2xx (and ``ok`` codes), raises ClientError."""
        what = what or f"{method} {path}"
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data: bytes | None = None
        headers = {"Accept": accept, "User-Agent": "dnsaas-cli"}
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        if self.token:
            headers["X-Auth-Token"] = self.token
        if self.project:
            headers["X-Auth-Project-ID"] = self.project
        if self.all_projects:
            headers["X-Auth-All-Projects"] = "true"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, raw, hdrs = resp.status, resp.read(), dict(resp.headers.items())
        except urllib.error.HTTPError as exc:
            status, raw, hdrs = exc.code, exc.read(), dict(exc.headers.items())
        except urllib.error.URLError as exc:
            raise ClientError(self._unreachable(exc.reason)) from None
        except TimeoutError:
            raise ClientError(f"no answer from {self.url} within {self.timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise ClientError(self._unreachable(exc)) from None
        headers_lc = {k.lower(): v for k, v in hdrs.items()}
        parsed = self._decode(raw, headers_lc.get("content-type", ""), status)
        if 200 <= status < 300 or status in ok:
            return Response(status, headers_lc, parsed)
        if status == 401:
            hint = "no token given: use --token or DNSAAS_TOKEN" if not self.token else \
                "the token is wrong or expired"
            raise ClientError(f"{what}: authentication failed (401): {hint}", status, parsed)
        raise ClientError(_error_line(status, parsed, what), status, parsed)

    def _unreachable(self, reason: object) -> str:
        text = str(getattr(reason, "strerror", None) or reason)
        if isinstance(reason, ConnectionRefusedError) or "refused" in text.lower():
            return f"cannot connect to {self.url}: connection refused (is `dnsaas serve` running?)"
        if isinstance(reason, socket.gaierror) or "name or service" in text.lower():
            return f"cannot connect to {self.url}: unknown host"
        if isinstance(reason, TimeoutError) or "timed out" in text.lower():
            return f"no answer from {self.url} within {self.timeout:g} s"
        return f"cannot connect to {self.url}: {text}"

    def _decode(self, raw: bytes, content_type: str, status: int) -> Any:
        if not raw:
            return None
        if "json" in content_type:
            try:
                return json.loads(raw)
            except ValueError:
                raise ClientError(f"{self.url} answered {status} with invalid JSON; "
                                  "is this a dnsaas API URL?") from None
        if content_type.startswith("text/dns") or content_type.startswith("text/plain"):
            return raw.decode(errors="replace")
        if status < 300:
            raise ClientError(f"{self.url} answered {status} with {content_type or 'no content type'}; "
                              "is this a dnsaas API URL?")
        return raw.decode(errors="replace")

    def get(self, path: str, **kw: Any) -> Any:
        """GET ``path`` and return the decoded body."""
        return self.request("GET", path, **kw).body

    def paged(self, path: str, key: str, query: Mapping[str, Any] | None = None,
              limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following ``links.next`` (at most ``limit`` items)."""
        params = dict(query or {})
        params.setdefault("limit", 1000 if limit is None else min(limit, 1000))
        seen = 0
        while True:
            body = self.get(path, query=params)
            items = body.get(key, []) if isinstance(body, Mapping) else []
            for item in items:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            nxt = (body.get("links") or {}).get("next") if isinstance(body, Mapping) else None
            if not nxt or not items:
                return
            marker = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query).get("marker")
            if not marker:
                return
            params["marker"] = marker[0]

    # -- zones ---------------------------------------------------------------------------------
    def find_zone(self, ref: str) -> dict[str, Any]:
        """A zone by id or by name (with or without the trailing dot)."""
        if is_uuid(ref):
            try:
                return self.get(f"/v2/zones/{ref}", what=f"zone {ref}")
            except ClientError as exc:
                if exc.status == 404:
                    raise ClientError(f"zone {ref} not found", 404) from None
                raise
        name = fqdn(ref.lower())
        zones = self.get("/v2/zones", query={"name": name}, what=f"zone lookup {name}")["zones"]
        if not zones:
            raise ClientError(f"zone {name} not found", 404)
        if len(zones) > 1:
            ids = ", ".join(z["id"] for z in zones)
            raise ClientError(f"zone name {name} is ambiguous (ids {ids}); give the id")
        return zones[0]

    # -- recordsets ----------------------------------------------------------------------------
    def find_recordset(self, zone: Mapping[str, Any], ref: str, rtype: str | None = None) -> dict[str, Any]:
        """A recordset of ``zone`` by id, or by name (relative to the zone or absolute) and type."""
        zid = zone["id"]
        if is_uuid(ref):
            try:
                return self.get(f"/v2/zones/{zid}/recordsets/{ref}", what=f"recordset {ref}")
            except ClientError as exc:
                if exc.status == 404:
                    raise ClientError(f"recordset {ref} not found in zone {zone['name']}", 404) from None
                raise
        name = absolute_name(ref, zone["name"])
        query: dict[str, Any] = {"name": name}
        if rtype:
            query["type"] = rtype.upper()
        found = list(self.paged(f"/v2/zones/{zid}/recordsets", "recordsets", query))
        label = f"{name} {rtype.upper()}" if rtype else name
        if not found:
            raise ClientError(f"recordset {label} not found in zone {zone['name']}", 404)
        if len(found) > 1:
            types = ", ".join(sorted(r["type"] for r in found))
            raise ClientError(f"{name} has several recordsets ({types}); give --type or the id")
        return found[0]

    # -- waiting -------------------------------------------------------------------------------
    def wait_active(self, fetch: Callable[[], dict[str, Any] | None], what: str, timeout: float,
                    progress: Callable[[dict[str, Any] | None, float], None] | None = None,
                    gone_ok: bool = False) -> dict[str, Any] | None:
        """Poll ``fetch`` until the resource is ACTIVE (or gone, with ``gone_ok``).

        ERROR raises; so does running past ``timeout`` seconds.
        """
        start = time.monotonic()
        delay = 0.02
        while True:
            try:
                current = fetch()
            except ClientError as exc:
                if gone_ok and exc.status == 404:
                    current = None
                else:
                    raise
            elapsed = time.monotonic() - start
            if current is None:
                return None
            status = current.get("status")
            if status == "ACTIVE" and not gone_ok:
                return current
            if progress:
                progress(current, elapsed)
            if status == "ERROR":
                raise ClientError(f"{what} went to ERROR (action {current.get('action')})")
            if elapsed > timeout:
                raise ClientError(f"{what} still {status} after {timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)


def absolute_name(name: str, zone_name: str) -> str:
    """A recordset name made absolute: ``@`` is the apex, names without a dot are relative."""
    if name in ("@", ""):
        return zone_name
    if name.endswith("."):
        return name.lower()
    low = name.lower()
    if low == zone_name.rstrip(".") or low.endswith("." + zone_name.rstrip(".")):
        return low + "."
    return f"{low}.{zone_name}"
