"""The service layer (Designate's "central"): every mutation goes through here, one
transaction per call."""

from __future__ import annotations

from dnsaas.service.admin import AdminService
from dnsaas.service.listing import ListParams, Page
from dnsaas.service.recordsets import RecordsetService
from dnsaas.service.status import StatusService
from dnsaas.service.tokens import TokenService


class Service(RecordsetService, AdminService, StatusService, TokenService):
    """All service operations on one engine and settings."""


__all__ = ["ListParams", "Page", "Service"]
