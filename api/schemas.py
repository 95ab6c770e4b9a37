"""Request and response models. Requests are validated with them (unknown keys and changed
read-only fields are a 400 ``invalid_object`` with ``errors.errors[]``); responses are documented
with them, and the tests check real responses against them, so the OpenAPI document generated
from them (``api/openapi.py``) describes what the server really sends."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dnsaas.errors import InvalidObject, error_entry

TTL = Field(None, ge=0, le=2147483647, description="TTL in seconds; null inherits the default")
DESCRIPTION = Field(None, max_length=160, description="Free text, at most 160 characters")
UUID_FORMAT = {"format": "uuid"}
TIMESTAMP = "UTC timestamp `YYYY-MM-DDTHH:MM:SS.ffffff`"


# --- request models -------------------------------------------------------------------------
class RequestModel(BaseModel):
    """A request body: strict JSON types, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)
    RESOURCE: ClassVar[str] = "object"
    # Keys the client may echo back unchanged (they are dropped), but not change.
    READ_ONLY: ClassVar[frozenset[str]] = frozenset()


_ZONE_RO = frozenset({"id", "pool_id", "project_id", "serial", "status", "action", "version",
                      "created_at", "updated_at", "links", "transferred_at", "shared"})
_RS_RO = frozenset({"id", "project_id", "zone_id", "zone_name", "status", "action", "version",
                    "created_at", "updated_at", "links"})
_ADMIN_RO = frozenset({"id", "created_at", "updated_at", "links", "version"})


class ZoneCreate(RequestModel):
    """Body of ``POST /v2/zones``."""

    RESOURCE = "zone"
    READ_ONLY = _ZONE_RO
    name: str = Field(description="FQDN with a trailing dot", max_length=255)
    email: str | None = Field(None, description="Required for PRIMARY zones, forbidden for "
                              "SECONDARY ones", max_length=255)
    ttl: int | None = TTL
    description: str | None = DESCRIPTION
    type: str | None = Field(None, description="PRIMARY (default) or SECONDARY",
                             json_schema_extra={"enum": ["PRIMARY", "SECONDARY"]})
    masters: list[str] | None = Field(None, description="SECONDARY only: `host` or `host:port`")
    attributes: dict[str, str] | None = Field(None, description="Scheduler hints; `pool_id` is "
                                              "admin-only")


class ZoneUpdate(RequestModel):
    """Body of ``PATCH /v2/zones/{zone_id}``."""

    RESOURCE = "zone"
    READ_ONLY = _ZONE_RO | {"name", "type"}
    email: str | None = Field(None, max_length=255)
    ttl: int | None = TTL
    description: str | None = DESCRIPTION
    masters: list[str] | None = Field(None, description="SECONDARY only")
    attributes: dict[str, str] | None = None


class RecordsetCreate(RequestModel):
    """Body of ``POST /v2/zones/{zone_id}/recordsets``."""

    RESOURCE = "recordset"
    READ_ONLY = _RS_RO
    name: str = Field(description="FQDN with a trailing dot, inside the zone", max_length=255)
    type: str = Field(description="Record type, upper case (A, AAAA, CNAME, MX, …)")
    records: list[str] = Field(description="Record data, one string per record")
    ttl: int | None = TTL
    description: str | None = DESCRIPTION


class RecordsetUpdate(RequestModel):
    """Body of ``PUT /v2/zones/{zone_id}/recordsets/{recordset_id}``."""

    RESOURCE = "recordset"
    READ_ONLY = _RS_RO | {"name", "type"}
    records: list[str] | None = Field(None, description="Replaces the whole set")
    ttl: int | None = TTL
    description: str | None = DESCRIPTION


class TldCreate(RequestModel):
    RESOURCE = "tld"
    READ_ONLY = _ADMIN_RO
    name: str = Field(description="TLD without a trailing dot, e.g. `com` or `co.uk`")
    description: str | None = DESCRIPTION


class TldUpdate(RequestModel):
    RESOURCE = "tld"
    READ_ONLY = _ADMIN_RO
    name: str | None = None
    description: str | None = DESCRIPTION


class BlacklistCreate(RequestModel):
    RESOURCE = "blacklist"
    READ_ONLY = _ADMIN_RO
    pattern: str = Field(description="Python regular expression, searched in zone names",
                         max_length=255)
    description: str | None = DESCRIPTION


class BlacklistUpdate(RequestModel):
    RESOURCE = "blacklist"
    READ_ONLY = _ADMIN_RO
    pattern: str | None = Field(None, max_length=255)
    description: str | None = DESCRIPTION


_ALGORITHMS = ["hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384",
               "hmac-sha512"]


class TsigKeyCreate(RequestModel):
    RESOURCE = "tsigkey"
    READ_ONLY = _ADMIN_RO
    name: str = Field(max_length=160)
    algorithm: str = Field(json_schema_extra={"enum": _ALGORITHMS})
    secret: str = Field(max_length=160, description="Base64 secret (returned in plaintext)")
    scope: str = Field(json_schema_extra={"enum": ["POOL", "ZONE"]})
    resource_id: str = Field(description="Id of the pool or zone the key is for",
                             json_schema_extra=UUID_FORMAT)


class TsigKeyUpdate(RequestModel):
    RESOURCE = "tsigkey"
    READ_ONLY = _ADMIN_RO
    name: str | None = Field(None, max_length=160)
    algorithm: str | None = Field(None, json_schema_extra={"enum": _ALGORITHMS})
    secret: str | None = Field(None, max_length=160)
    scope: str | None = Field(None, json_schema_extra={"enum": ["POOL", "ZONE"]})
    resource_id: str | None = None


class PoolNsRecord(RequestModel):
    hostname: str = Field(description="FQDN with a trailing dot")
    priority: int = Field(ge=1, le=10000)


class PoolCreate(RequestModel):
    RESOURCE = "pool"
    READ_ONLY = _ADMIN_RO
    name: str = Field(max_length=50)
    description: str | None = DESCRIPTION
    project_id: str | None = None
    attributes: dict[str, str] | None = None
    ns_records: list[PoolNsRecord] | None = None


class PoolUpdate(RequestModel):
    RESOURCE = "pool"
    READ_ONLY = _ADMIN_RO | {"project_id"}
    name: str | None = Field(None, max_length=50)
    description: str | None = DESCRIPTION
    attributes: dict[str, str] | None = None
    ns_records: list[PoolNsRecord] | None = None


class QuotaUpdate(RequestModel):
    """Any subset of the quota keys; −1 means unlimited."""

    RESOURCE = "quota"
    zones: int | None = Field(None, ge=-1, le=2147483647)
    zone_recordsets: int | None = Field(None, ge=-1, le=2147483647)
    zone_records: int | None = Field(None, ge=-1, le=2147483647)
    recordset_records: int | None = Field(None, ge=-1, le=2147483647)
    api_export_size: int | None = Field(None, ge=-1, le=2147483647)


async def parse(model: type[RequestModel], data: dict[str, Any],
                current: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Validate ``data`` against ``model``; returns the keys the client set.

    Keys in ``model.READ_ONLY`` are accepted only when ``current`` is given and they equal the
    stored value (Designate: "sending the same value is ignored"); any other unknown key is a
    400 ``invalid_object``.
    """
    fields = model.model_fields
    extra = [k for k in data if k not in fields]
    bad: list[str] = []
    if extra:
        existing = await current() if current is not None and any(
            k in model.READ_ONLY for k in extra) else {}
        for key in extra:
            if key in model.READ_ONLY and current is not None and key == "links":
                continue  # derived from the request URL; echoing it back is harmless
            if key in model.READ_ONLY and key in existing and _same(existing[key], data[key]):
                continue
            bad.append(key)
    if bad:
        entries = [error_entry([k], f"'{k}' is read only" if k in model.READ_ONLY
                               else f"Additional properties are not allowed ('{k}' was "
                               "unexpected)", "readOnly" if k in model.READ_ONLY
                               else "additionalProperties", False) for k in bad]
        raise InvalidObject(f"Provided object does not match schema.  Keys {bad} are not valid "
                            f"for {model.RESOURCE}", errors=entries)
    clean = {k: v for k, v in data.items() if k in fields}
    try:
        obj = model.model_validate(clean)
    except ValidationError as exc:
        entries = [_entry(err) for err in exc.errors(include_url=False)]
        raise InvalidObject(entries[0]["message"], errors=entries) from None
    out = obj.model_dump(exclude_unset=True)
    return out


def _same(stored: Any, sent: Any) -> bool:
    if isinstance(stored, str) and isinstance(sent, str):
        return stored.lower() == sent.lower()
    return bool(stored == sent and type(stored) is type(sent))


_TYPES = {"string_type": "string", "int_type": "integer", "list_type": "array",
          "dict_type": "object", "bool_type": "boolean", "model_type": "object",
          "model_attributes_type": "object", "float_type": "number", "int_from_float": "integer"}


def _entry(err: Any) -> dict[str, Any]:
    """A pydantic error as a jsonschema-style ``errors.errors[]`` entry."""
    path = [p for p in err["loc"]]
    kind = err["type"]
    if kind == "missing":
        return error_entry(path, f"'{path[-1]}' is a required property", "required")
    if kind in _TYPES:
        shown = json.dumps(err.get("input"), default=str)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return error_entry(path, f"{shown} is not of type '{_TYPES[kind]}'", "type", _TYPES[kind])
    ctx = err.get("ctx") or {}
    validator = {"string_too_long": "maxLength", "too_long": "maxItems",
                 "greater_than_equal": "minimum", "less_than_equal": "maximum"}.get(kind, kind)
    value = next(iter(ctx.values()), None) if ctx else None
    if not isinstance(value, (int, float, str, type(None))):
        value = str(value)
    return error_entry(path, f"{'.'.join(map(str, path)) or 'body'}: {err['msg']}", validator,
                       value)


# --- response models ------------------------------------------------------------------------
class ResponseModel(BaseModel):
    """A response body (closed: tests fail when the server adds an undocumented key)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Links(ResponseModel):
    self_: str = Field(alias="self", description="Absolute URL of this resource")


class ListLinks(ResponseModel):
    self_: str = Field(alias="self", description="This page, with its query")
    next: str | None = Field(None, description="The next page; absent on the last page")


class Metadata(ResponseModel):
    total_count: int | None = Field(None, description="Exact number of matches; left out of "
                                    "recordset lists with `OpenStack-DNS-Hide-Counts: true`")


class Zone(ResponseModel):
    id: str = Field(json_schema_extra=UUID_FORMAT)
    pool_id: str = Field(json_schema_extra=UUID_FORMAT)
    project_id: str
    name: str
    email: str | None
    ttl: int
    serial: int = Field(description="Current SOA serial (grows on every change)")
    status: str = Field(json_schema_extra={"enum": ["PENDING", "ACTIVE", "ERROR"]})
    action: str = Field(json_schema_extra={"enum": ["CREATE", "UPDATE", "DELETE", "NONE"]})
    version: int
    created_at: str = Field(description=TIMESTAMP)
    updated_at: str | None = Field(description=TIMESTAMP)
    description: str | None
    type: str = Field(json_schema_extra={"enum": ["PRIMARY", "SECONDARY", "CATALOG"]})
    masters: list[str]
    attributes: dict[str, str]
    transferred_at: str | None
    shared: bool
    links: Links


class ZoneList(ResponseModel):
    zones: list[Zone]
    links: ListLinks
    metadata: Metadata


class Nameserver(ResponseModel):
    hostname: str
    priority: int


class NameserverList(ResponseModel):
    nameservers: list[Nameserver]


class Recordset(ResponseModel):
    id: str = Field(json_schema_extra=UUID_FORMAT)
    project_id: str
    zone_id: str = Field(json_schema_extra=UUID_FORMAT)
    zone_name: str
    name: str
    type: str
    ttl: int | None = Field(description="null: the zone's TTL applies")
    records: list[str]
    description: str | None
    status: str
    action: str
    version: int
    created_at: str = Field(description=TIMESTAMP)
    updated_at: str | None = Field(description=TIMESTAMP)
    links: Links


class RecordsetList(ResponseModel):
    recordsets: list[Recordset]
    links: ListLinks
    metadata: Metadata


class Tld(ResponseModel):
    id: str = Field(json_schema_extra=UUID_FORMAT)
    name: str
    description: str | None
    created_at: str
    updated_at: str | None
    links: Links


class TldList(ResponseModel):
    tlds: list[Tld]
    links: ListLinks


class Blacklist(ResponseModel):
    id: str = Field(json_schema_extra=UUID_FORMAT)
    pattern: str
    description: str | None
    created_at: str
    updated_at: str | None
    links: Links


class BlacklistList(ResponseModel):
    blacklists: list[Blacklist]
    links: ListLinks


class TsigKey(ResponseModel):
    id: str = Field(json_schema_extra=UUID_FORMAT)
    name: str
    algorithm: str
    secret: str
    scope: str
    resource_id: str
    created_at: str
    updated_at: str | None
    links: Links


class TsigKeyList(ResponseModel):
    tsigkeys: list[TsigKey]
    links: ListLinks


class PoolNs(ResponseModel):
    hostname: str
    priority: int


class Pool(ResponseModel):
    id: str = Field(json_schema_extra=UUID_FORMAT)
    name: str
    description: str | None
    project_id: str | None
    attributes: dict[str, Any]
    ns_records: list[PoolNs]
    created_at: str
    updated_at: str | None
    links: Links


class PoolList(ResponseModel):
    pools: list[Pool]
    links: ListLinks


class ServiceStatus(ResponseModel):
    id: str = Field(json_schema_extra=UUID_FORMAT)
    hostname: str
    service_name: str
    status: str = Field(json_schema_extra={"enum": ["UP", "DOWN", "WARNING", "STOPPED"]})
    stats: dict[str, Any]
    capabilities: dict[str, Any]
    heartbeated_at: str | None
    created_at: str
    updated_at: str | None
    links: Links


class ServiceStatusList(ResponseModel):
    service_statuses: list[ServiceStatus]
    links: ListLinks


class Quotas(ResponseModel):
    zones: int
    zone_recordsets: int
    zone_records: int
    recordset_records: int
    api_export_size: int


class Limits(ResponseModel):
    max_zones: int
    max_zone_recordsets: int
    max_zone_records: int
    max_recordset_records: int
    min_ttl: int
    max_zone_name_length: int
    max_recordset_name_length: int
    max_page_limit: int


class VersionLink(ResponseModel):
    href: str
    rel: str


class Version(ResponseModel):
    id: str
    status: str = Field(json_schema_extra={"enum": ["CURRENT", "SUPPORTED", "DEPRECATED"]})
    updated: str
    links: list[VersionLink]


class Versions(ResponseModel):
    versions: list[Version]


class VersionDocument(ResponseModel):
    version: Version


class ErrorEntry(ResponseModel):
    path: list[str | int]
    message: str
    validator: str
    validator_value: Any = None


class ErrorList(ResponseModel):
    errors: list[ErrorEntry]


class Error(ResponseModel):
    """Designate's error body."""

    code: int
    type: str
    message: str | None = None
    errors: ErrorList | None = Field(None, description="Validation errors (400 invalid_object)")
    request_id: str
