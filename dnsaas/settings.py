"""The one settings object: ``DNSAAS_*`` environment variables and an optional config file.

Built once by the CLI (:func:`load_settings`) and passed down; nothing reads configuration
globally.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_POOL_ID = "794ccc2c-d751-44fe-b57f-8894c9f5c842"
MANAGED_PROJECT_ID = "00000000-0000-0000-0000-000000000000"


class QuotaDefaults(BaseModel):
    """Per-project quota defaults (designate-api.md §3); −1 means unlimited."""

    zones: int = 10
    zone_recordsets: int = 500
    zone_records: int = 500
    recordset_records: int = 20
    api_export_size: int = 1000


class Settings(BaseSettings):
    """All of dnsaas's settings. Field names map to ``DNSAAS_<NAME>`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="DNSAAS_", env_nested_delimiter="__", extra="ignore"
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./dnsaas.db",
        description="SQLAlchemy URL: postgresql+asyncpg://… or sqlite+aiosqlite:///…",
    )
    auth: Literal["token", "noauth"] = Field("token", description="API authentication mode")
    api_host: str = Field("127.0.0.1", description="REST API listen address")
    api_port: int = Field(9001, description="REST API listen port")
    mdns_host: str = Field("127.0.0.1", description="mdns listen address (UDP and TCP)")
    mdns_port: int = Field(5354, description="mdns listen port (UDP and TCP)")
    config: str | None = Field(None, description="Path of an optional YAML/JSON config file")
    db_pool_size: int = Field(20, ge=1, description="PostgreSQL connections each process keeps "
                              "open (as many again may be opened under bursts)")

    # Designate defaults (designate-api.md §3).
    default_pool_id: str = Field(DEFAULT_POOL_ID, description="Pool given to new zones")
    default_ttl: int = Field(3600, description="Default zone TTL")
    min_ttl: int = Field(0, description="Lowest TTL a non-admin may set")
    managed_resource_email: str = Field("hostmaster@example.com",
                                        description="SOA email of managed zones")
    default_ns_hostname: str = Field("ns1.example.com.",
                                     description="NS record of the default pool on first start")
    quotas: QuotaDefaults = Field(default_factory=QuotaDefaults,
                                  description="Quota defaults per project")
    max_request_body: int = Field(114688, description="Largest accepted request body, bytes")
    max_import_size: int = Field(16 * 1024 * 1024,
                                 description="Largest zone file a zone import accepts, bytes")
    import_stale_after: float = Field(
        300.0, description="Seconds without progress after which the worker's recovery sweep "
        "ends a PENDING zone import in ERROR (its API process died; the file is not stored)")
    max_page_limit: int = Field(1000, description="Largest page size (limit=max)")
    default_page_limit: int = Field(20, description="Page size when no limit is given")

    # mdns.
    journal_retention: int = Field(1000, description="Journal entries kept per zone for IXFR")
    transfer_cache_bytes: int = Field(256 * 1024 * 1024,
                                      description="Bytes of rendered AXFRs mdns keeps in memory")
    allow_transfer_from: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Networks allowed AXFR/IXFR besides the zone's pool hosts")

    # worker.
    worker_lease_seconds: float = Field(30.0, description="Lease of a claimed job")
    worker_retry_budget: int = Field(8, description="Attempts before a zone goes to ERROR")
    worker_poll_timeout: float = Field(10.0, description="Seconds to wait for nameservers")
    recovery_interval: float = Field(30.0, description="Seconds between recovery sweeps")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ConfigFileSource(settings_cls))

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite store is in use."""
        return self.database_url.startswith("sqlite")


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Reads ``DNSAAS_CONFIG`` (YAML or JSON) with the same keys as the settings."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("DNSAAS_CONFIG")
        if not path:
            return {}
        text = Path(path).read_text()
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
        return dict(data or {})


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, the config file and explicit overrides."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    if "config" in clean:
        os.environ["DNSAAS_CONFIG"] = str(clean["config"])
    return Settings(**clean)
