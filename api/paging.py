"""Lists: ``limit``/``marker``/``sort_key``/``sort_dir`` and filters from the query string, and the
``links``/``metadata`` envelope (designate-api.md §0.4).

Deviation from Designate, on purpose: ``links.next`` appears only when another item exists
(each page fetches ``limit + 1`` rows). Designate emits it whenever the page is full, so a
client walking an exact-size last page makes one more request and gets an empty page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from api.helpers import HIDE_COUNTS, settings
from api.routes import QueryParam
from dnsaas.errors import BadRequest
from dnsaas.service.listing import ListParams, Page, check_sort, parse_limit

PAGING_KEYS = frozenset({"limit", "marker", "sort_key", "sort_dir"})
# Consumed by the context (designate's ContextMiddleware pops them), never filters.
CONTEXT_KEYS = frozenset({"all_projects", "all_tenants", "edit_managed_records"})


def list_params(request: web.Request, *, sort_keys: frozenset[str], filters: frozenset[str],
                count: bool) -> tuple[ListParams, int]:
    """The service's ListParams (asking for one extra row) and the page size."""
    if not request.query_string and "created_at" in sort_keys:  # the common case: defaults
        limit = settings(request).default_page_limit
        return ListParams(limit=limit + 1, count=count), limit
    query = request.query
    keys = [k for k, _ in query.items()]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    if dups:
        raise BadRequest(f"Duplicate filters {dups}")
    unknown = sorted(k for k in keys if k not in PAGING_KEYS and k not in CONTEXT_KEYS
                     and k not in filters)
    if unknown:
        raise BadRequest(f"Invalid filters {unknown}")
    conf = settings(request)
    limit = parse_limit(query.get("limit"), conf.default_page_limit, conf.max_page_limit)
    sort_key, sort_dir = check_sort(query.get("sort_key"), query.get("sort_dir"), sort_keys)
    chosen = {k: query[k] for k in keys if k in filters}
    params = ListParams(filters=chosen, sort_key=sort_key, sort_dir=sort_dir,
                        marker=query.get("marker"), limit=limit + 1, count=count)
    return params, limit


def list_body(request: web.Request, collection: str, page: Page, limit: int,
              item_href: Callable[[dict[str, Any]], str], *, metadata: bool) -> dict[str, Any]:
    """``{collection: [...], links: {self, next?}, metadata?}`` for one page."""
    items = page.items[:limit]
    for item in items:
        item.pop("_serial", None)
        item["links"] = {"self": item_href(item)}
    links: dict[str, str] = {"self": str(request.url)}
    if len(page.items) > limit and items:
        links["next"] = str(request.url.update_query(marker=items[-1]["id"], limit=str(limit)))
    body: dict[str, Any] = {collection: items, "links": links}
    if metadata:
        hidden = request.get(HIDE_COUNTS, False) or page.total is None
        body["metadata"] = {} if hidden else {"total_count": page.total}
    return body


def documented(sort_keys: frozenset[str], filters: frozenset[str]) -> tuple[QueryParam, ...]:
    """The query parameters of a list endpoint, for OpenAPI."""
    return (
        QueryParam("limit", "Page size: 1..1000 or `max` (default 20)",
                   {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 1000},
                              {"type": "string", "enum": ["max"]}]}),
        QueryParam("marker", "Id of the last item of the previous page",
                   {"type": "string", "format": "uuid"}),
        QueryParam("sort_key", "Sort key (default created_at)",
                   {"type": "string", "enum": sorted(sort_keys)}),
        QueryParam("sort_dir", "Sort direction (default asc)",
                   {"type": "string", "enum": ["asc", "desc"]}),
        *(QueryParam(f, f"Filter on {f}; `*` is a wildcard") for f in sorted(filters)),
    )
