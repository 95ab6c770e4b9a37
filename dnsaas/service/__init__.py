"""The service layer (Designate's "central"): every mutation goes through here, one
transaction per call."""

from __future__ import annotations

from dnsaas.service.admin import AdminService
from dnsaas.service.exports import ExportService
from dnsaas.service.listing import ListParams, Page
from dnsaas.service.recordsets import RecordsetService
from dnsaas.service.shares import ShareService
from dnsaas.service.status import StatusService
from dnsaas.service.tokens import TokenService
from dnsaas.service.transfers import TransferService
from dnsaas.service.zone_tasks import ZoneTaskService


class Service(RecordsetService, AdminService, StatusService, TokenService, ExportService,
              ShareService, TransferService, ZoneTaskService):
    """All service operations on one engine and settings."""


__all__ = ["ListParams", "Page", "Service"]
