"""Typed errors. Each carries Designate's HTTP code and ``type`` string (designate-api.md §0.2).

The API's error middleware turns any :class:`DnsaasError` into Designate's error body; nothing
else needs to know about HTTP.
"""

from __future__ import annotations

from typing import Any


class DnsaasError(Exception):
    """Root of every dnsaas error. The docstring of a subclass is its default message."""

    code: int = 500
    type: str = "unknown"
    expected: bool = True

    def __init__(self, message: str | None = None, *, errors: list[dict[str, Any]] | None = None):
        self.message = message or (self.__doc__ or self.type).strip().splitlines()[0]
        self.errors = errors
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """Designate's error body, without the request id."""
        out: dict[str, Any] = {"code": self.code, "type": self.type, "message": self.message}
        if self.errors is not None:
            out["errors"] = {"errors": self.errors}
        return out


# --- 400 ------------------------------------------------------------------------------------
class BadRequest(DnsaasError):
    """Bad request"""

    code, type = 400, "bad_request"


class InvalidObject(BadRequest):
    """Provided object does not match schema"""

    type = "invalid_object"

    @classmethod
    def single(cls, path: list[Any], message: str, validator: str = "format",
               value: Any = None) -> InvalidObject:
        """An InvalidObject with one error entry at ``path``."""
        return cls(message, errors=[error_entry(path, message, validator, value)])


def error_entry(path: list[Any], message: str, validator: str = "format",
                value: Any = None) -> dict[str, Any]:
    """One element of ``errors.errors[]`` as designateclient reads it."""
    return {"path": list(path), "message": message, "validator": validator,
            "validator_value": value}


class EmptyRequestBody(BadRequest):
    """Request body is empty"""

    type = "empty_request_body"


class InvalidJson(BadRequest):
    """Request body is not valid JSON"""

    type = "invalid_json"


class InvalidUUID(BadRequest):
    """Invalid UUID"""

    type = "invalid_uuid"


class InvalidLimit(BadRequest):
    """limit must be an integer between 1 and 1000, or 'max'"""

    type = "invalid_limit"


class InvalidSortDir(BadRequest):
    """Unknown sort direction, must be 'desc' or 'asc'"""

    type = "invalid_sort_dir"


class InvalidSortKey(BadRequest):
    """Sort key not valid"""

    type = "invalid_sort_key"


class InvalidMarker(BadRequest):
    """Invalid marker"""

    type = "invalid_marker"


class MarkerNotFound(BadRequest):
    """Marker not found"""

    type = "marker_not_found"


class InvalidZoneName(BadRequest):
    """Invalid zone name"""

    type = "invalid_zone_name"


class InvalidTTL(BadRequest):
    """Invalid TTL"""

    type = "invalid_ttl"


class InvalidRecordSetName(BadRequest):
    """Invalid recordset name"""

    type = "invalid_recordset_name"


class InvalidRecordSetLocation(BadRequest):
    """Invalid recordset location"""

    type = "invalid_recordset_location"


class ZoneHasSubZone(BadRequest):
    """Please delete any subzones before deleting this zone"""

    type = "zone_has_sub_zone"


class ZoneIsShared(BadRequest):
    """This zone is shared with other projects, delete its shares first"""

    type = "zone_is_shared"


class SharedZoneHasSubZone(BadRequest):
    """The target project owns subzones of this zone"""

    type = "shared_zone_has_sub_zone"


class SharedZoneHasRecordsets(BadRequest):
    """The target project still owns recordsets in this zone"""

    type = "shared_zone_has_recordsets"


class InvalidZoneTransferRequest(BadRequest):
    """Invalid zone transfer request"""

    type = "invalid_zone_transfer_request"


class InvalidTsigKey(BadRequest):
    """Invalid TSIG key"""

    type = "invalid_tsigkey"


class InvalidProject(BadRequest):
    """Invalid project"""

    type = "invalid_project"


class InvalidOperation(BadRequest):
    """Invalid operation"""

    type = "invalid_operation"


class LastServerDeleteNotAllowed(BadRequest):
    """Not allowed to delete the last nameserver of a pool"""

    type = "last_server_delete_not_allowed"


# --- 401 / 403 ------------------------------------------------------------------------------
class Unauthorized(DnsaasError):
    """Authentication required"""

    code, type = 401, "unauthorized"


class MissingProjectID(Unauthorized):
    """A project ID is required for this request"""

    type = "missing_project_id"


class Forbidden(DnsaasError):
    """Forbidden"""

    code, type = 403, "forbidden"


class IllegalChildZone(Forbidden):
    """Unable to create subzone in another tenants zone"""

    type = "illegal_child"


class IllegalParentZone(Forbidden):
    """Unable to create zone because another tenant owns a subzone of the zone"""

    type = "illegal_parent"


class InvalidKey(Forbidden):
    """Invalid key"""

    type = "invalid_key"


# --- 404 ------------------------------------------------------------------------------------
class NotFound(DnsaasError):
    """Not found"""

    code, type = 404, "not_found"


def _not_found(name: str, what: str) -> type[NotFound]:
    return type(name, (NotFound,), {"type": what, "__doc__": f"Could not find {what[:-10]}"})


ZoneNotFound = _not_found("ZoneNotFound", "zone_not_found")
RecordSetNotFound = _not_found("RecordSetNotFound", "recordset_not_found")
TldNotFound = _not_found("TldNotFound", "tld_not_found")
TsigKeyNotFound = _not_found("TsigKeyNotFound", "tsigkey_not_found")
BlacklistNotFound = _not_found("BlacklistNotFound", "blacklist_not_found")
PoolNotFound = _not_found("PoolNotFound", "pool_not_found")
ZoneImportNotFound = _not_found("ZoneImportNotFound", "zone_import_not_found")
ZoneExportNotFound = _not_found("ZoneExportNotFound", "zone_export_not_found")
ZoneTransferRequestNotFound = _not_found(
    "ZoneTransferRequestNotFound", "zone_transfer_request_not_found")
ZoneTransferAcceptNotFound = _not_found(
    "ZoneTransferAcceptNotFound", "zone_transfer_accept_not_found")
SharedZoneNotFound = _not_found("SharedZoneNotFound", "shared_zone_not_found")
ServiceStatusNotFound = _not_found("ServiceStatusNotFound", "service_status_not_found")


class NoValidPoolFound(NotFound):
    """No valid pool found"""

    type = "no_valid_pool_found"


class MethodNotAllowed(DnsaasError):
    """Method not allowed"""

    code, type = 405, "method_not_allowed"


class UnsupportedAccept(DnsaasError):
    """Unsupported Accept header"""

    code, type = 406, "unsupported_accept"


# --- 409 ------------------------------------------------------------------------------------
class Duplicate(DnsaasError):
    """Duplicate resource"""

    code, type = 409, "duplicate"


def _duplicate(name: str, what: str) -> type[Duplicate]:
    return type(name, (Duplicate,), {"type": what, "__doc__": f"Duplicate {what[10:]}"})


DuplicateZone = _duplicate("DuplicateZone", "duplicate_zone")
DuplicateRecordSet = _duplicate("DuplicateRecordSet", "duplicate_recordset")
DuplicateRecord = _duplicate("DuplicateRecord", "duplicate_record")
DuplicateTld = _duplicate("DuplicateTld", "duplicate_tld")
DuplicateTsigKey = _duplicate("DuplicateTsigKey", "duplicate_tsigkey")
DuplicateBlacklist = _duplicate("DuplicateBlacklist", "duplicate_blacklist")
DuplicatePool = _duplicate("DuplicatePool", "duplicate_pool")
DuplicateSharedZone = _duplicate("DuplicateSharedZone", "duplicate_shared_zone")
DuplicateZoneTransferRequest = _duplicate(
    "DuplicateZoneTransferRequest", "duplicate_zone_transfer_request")
DuplicateZoneTransferAccept = _duplicate(
    "DuplicateZoneTransferAccept", "duplicate_zone_transfer_accept")
DuplicateQuota = _duplicate("DuplicateQuota", "duplicate_quota")


# --- 413 / 415 / 5xx ------------------------------------------------------------------------
class OverQuota(DnsaasError):
    """Quota exceeded"""

    code, type = 413, "over_quota"


class RequestTooLarge(DnsaasError):
    """Request body too large"""

    code, type = 413, "request_too_large"


class UnsupportedContentType(DnsaasError):
    """Unsupported content type"""

    code, type = 415, "unsupported_content_type"


class NoServersConfigured(DnsaasError):
    """The pool has no ns_records configured"""

    code, type = 500, "no_servers_configured"


class ServiceUnavailable(DnsaasError):
    """The database is unavailable, try again later"""

    code, type = 503, "service_unavailable"


class Timeout(DnsaasError):
    """Timeout"""

    code, type = 504, "timeout"
