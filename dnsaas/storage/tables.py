"""Every table of the product, in SQLAlchemy Core.

Conventions: ids are hyphenated UUID strings; timestamps are naive UTC; ``version`` starts at 1
and grows on every update; rows that the API lists by page carry an index that starts with the
scoping column and ends in ``(created_at, id)`` so that marker pagination stays logarithmic.
Record data is kept twice: as the text the API returns and as uncompressed DNS wire rdata, so
mdns never parses text to answer a transfer.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

Id = sa.String(36)
Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Byte-ordered text, so that prefix ranges over reversed names use a plain btree on PostgreSQL.
ByteText = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    ]


def _fk(column: str, target: str, **kw: object) -> sa.Column:
    return sa.Column(column, Id, sa.ForeignKey(target, ondelete="CASCADE"), **kw)


# --- pools ----------------------------------------------------------------------------------
pools = sa.Table(
    "pools", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
    sa.Column("description", sa.String(160)),
    sa.Column("project_id", sa.String(255)),
    sa.Column("attributes", sa.JSON, nullable=False, default=dict),
    # RFC 9432 catalog zone of this pool (optional).
    sa.Column("catalog_zone_fqdn", sa.String(255)),
    sa.Column("catalog_zone_refresh", sa.Integer),
    sa.Column("catalog_zone_tsig_key", sa.String(255)),
    sa.Column("catalog_zone_tsig_algorithm", sa.String(32)),
    sa.Column("catalog_serial", Serial, nullable=False, default=1),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
)

pool_ns_records = sa.Table(
    "pool_ns_records", metadata,
    sa.Column("id", Id, primary_key=True),
    _fk("pool_id", "pools.id", nullable=False, index=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    *_timestamps(),
    sa.UniqueConstraint("pool_id", "hostname"),
)

pool_nameservers = sa.Table(
    "pool_nameservers", metadata,
    sa.Column("id", Id, primary_key=True),
    _fk("pool_id", "pools.id", nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("tsigkey_id", Id),
    *_timestamps(),
)

pool_targets = sa.Table(
    "pool_targets", metadata,
    sa.Column("id", Id, primary_key=True),
    _fk("pool_id", "pools.id", nullable=False, index=True),
    sa.Column("type", sa.String(50), nullable=False),
    sa.Column("description", sa.String(160)),
    sa.Column("masters", sa.JSON, nullable=False, default=list),  # [{host, port}] = mdns
    sa.Column("options", sa.JSON, nullable=False, default=dict),
    sa.Column("tsigkey_id", Id),
    *_timestamps(),
)

pool_also_notifies = sa.Table(
    "pool_also_notifies", metadata,
    sa.Column("id", Id, primary_key=True),
    _fk("pool_id", "pools.id", nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    *_timestamps(),
)

# --- zones, recordsets, records -------------------------------------------------------------
zones = sa.Table(
    "zones", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("pool_id", Id, sa.ForeignKey("pools.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    # reversed-label key ("com.example.www.") so that sub-/super-zone lookups use an index
    sa.Column("reverse_name", ByteText, nullable=False),
    sa.Column("email", sa.String(255), nullable=False),
    sa.Column("ttl", sa.Integer, nullable=False),
    sa.Column("refresh", sa.Integer, nullable=False),
    sa.Column("retry", sa.Integer, nullable=False),
    sa.Column("expire", sa.Integer, nullable=False),
    sa.Column("minimum", sa.Integer, nullable=False),
    sa.Column("serial", Serial, nullable=False),
    sa.Column("type", sa.String(10), nullable=False, default="PRIMARY"),
    sa.Column("masters", sa.JSON, nullable=False, default=list),
    sa.Column("description", sa.String(160)),
    sa.Column("attributes", sa.JSON, nullable=False, default=dict),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("parent_zone_id", Id),
    # Exact number of recordsets, kept in the same transaction as every recordset insert and
    # delete (the zone row is locked then anyway), so list totals never count 100k rows.
    sa.Column("recordset_count", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("transferred_at", sa.DateTime),
    sa.Column("deleted_at", sa.DateTime),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
    sa.Index("ix_zones_name_pool_live", "name", "pool_id", unique=True,
             sqlite_where=sa.text("deleted_at IS NULL"),
             postgresql_where=sa.text("deleted_at IS NULL")),
    # Live zones only, with ``type`` included: a project's page and its exact count are
    # index-only scans.
    sa.Index("ix_zones_project_page", "project_id", "created_at", "id",
             postgresql_include=["type"], sqlite_where=sa.text("deleted_at IS NULL"),
             postgresql_where=sa.text("deleted_at IS NULL")),
    sa.Index("ix_zones_page", "created_at", "id"),
    sa.Index("ix_zones_reverse_name", "reverse_name"),
    # Not on updated_at: every write to a zone sets it, and an indexed column changing makes
    # PostgreSQL write a new entry in EVERY index of zones instead of a HOT update (recovery
    # filters the PENDING zones by age; the status prefix is what it uses).
    sa.Index("ix_zones_status", "status"),
    sa.Index("ix_zones_pool", "pool_id"),
)

# Exact number of live (not soft-deleted) zones per project and zone type, kept by triggers on
# ``zones`` (dnsaas/storage/counters.py) in the transaction of every insert, delete, soft delete
# and ownership change, so that a project's unfiltered zone list and its zone quota never count
# rows. Rows at zero stay.
zone_counts = sa.Table(
    "zone_counts", metadata,
    sa.Column("project_id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(10), primary_key=True),
    sa.Column("zones", sa.BigInteger, nullable=False),
)

recordsets = sa.Table(
    "recordsets", metadata,
    sa.Column("id", Id, primary_key=True),
    _fk("zone_id", "zones.id", nullable=False),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(10), nullable=False),
    sa.Column("ttl", sa.Integer),
    sa.Column("description", sa.String(160)),
    sa.Column("managed", sa.Boolean, nullable=False, default=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("serial", Serial, nullable=False),  # zone serial of the last change
    sa.Column("version", sa.Integer, nullable=False, default=1),
    # PostgreSQL: the records' data in API order, kept by triggers (dnsaas/storage/
    # records_data.py) for the recordset pages; NULL on SQLite and for SOA recordsets.
    sa.Column("records_data", sa.ARRAY(sa.Text).with_variant(sa.JSON(), "sqlite")),
    *_timestamps(),
    sa.Index("ix_recordsets_zone_name_type", "zone_id", "name", "type", unique=True),
    sa.Index("ix_recordsets_zone_page", "zone_id", "created_at", "id"),
    sa.Index("ix_recordsets_project_page", "project_id", "created_at", "id"),
    sa.Index("ix_recordsets_name", "name"),
    # Only rows not yet ACTIVE: marking a change propagated touches these, not the whole zone.
    sa.Index("ix_recordsets_zone_unsettled", "zone_id", "serial",
             sqlite_where=sa.text("status != 'ACTIVE'"),
             postgresql_where=sa.text("status != 'ACTIVE'")),
)

records = sa.Table(
    "records", metadata,
    sa.Column("id", Id, primary_key=True),
    _fk("recordset_id", "recordsets.id", nullable=False),
    _fk("zone_id", "zones.id", nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("rdata", sa.LargeBinary, nullable=False),  # uncompressed wire rdata
    # The record as an AXFR answer RR (dnsaas.wire.axfr_rr: owner with the apex as a pointer to
    # offset 12, type, class, effective TTL, rdata), so a transfer concatenates one column of
    # one table. Empty for the SOA; NULL when unknown (rendered from the other columns then).
    # Triggers (dnsaas/storage/axfr_rr.py) keep it right when rdata or a TTL changes.
    sa.Column("axfr_rr", sa.LargeBinary),
    sa.Column("managed", sa.Boolean, nullable=False, default=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("serial", Serial, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
    sa.Index("ix_records_recordset", "recordset_id"),
    sa.Index("ix_records_zone", "zone_id", "recordset_id"),
    # The zone's unsettled records (mark_propagated filters their serials in the heap). Not on
    # ``serial``: every change rewrites the SOA record's serial, and with no indexed column
    # changing that rewrite is a HOT update (no new entry in any index of records).
    sa.Index("ix_records_zone_unsettled", "zone_id",
             sqlite_where=sa.text("status != 'ACTIVE'"),
             postgresql_where=sa.text("status != 'ACTIVE'")),
)

# The change journal: one row per serial bump. ``removed`` and ``added`` are concatenated wire
# RRs (owner, type, class, ttl, rdlength, rdata; no compression); ``removed`` starts with the
# old SOA and ``added`` with the new SOA, exactly as one IXFR difference sequence (RFC 1995).
zone_changes = sa.Table(
    "zone_changes", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    _fk("zone_id", "zones.id", nullable=False),
    sa.Column("serial_from", Serial, nullable=False),
    sa.Column("serial_to", Serial, nullable=False),
    sa.Column("removed", sa.LargeBinary, nullable=False),
    sa.Column("added", sa.LargeBinary, nullable=False),
    sa.Column("removed_count", sa.Integer, nullable=False),
    sa.Column("added_count", sa.Integer, nullable=False),
    # False when the change cannot be expressed as a diff (e.g. the zone TTL changed): IXFR
    # across it is answered AXFR-style.
    sa.Column("incremental", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_zone_changes_zone_serial", "zone_id", "serial_to", unique=True),
    sa.Index("ix_zone_changes_zone_from", "zone_id", "serial_from"),
)

# Durable jobs. One row per (zone, kind); a new change moves ``target_serial`` forward and
# makes the row pending again, so bursts coalesce into one propagation.
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("zone_id", Id, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # propagate | transfer | catalog
    sa.Column("state", sa.String(10), nullable=False),  # pending | running | done | error
    sa.Column("target_serial", Serial, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("run_after", sa.DateTime, nullable=False),
    sa.Column("lease_until", sa.DateTime),
    sa.Column("leased_by", sa.String(255)),
    sa.Column("last_error", sa.Text),
    sa.Column("payload", sa.JSON, nullable=False, default=dict),
    *_timestamps(),
    sa.Index("ix_jobs_zone_kind", "zone_id", "kind", unique=True),
    sa.Index("ix_jobs_ready", "state", "run_after"),
)

# --- admin resources ------------------------------------------------------------------------
tsigkeys = sa.Table(
    "tsigkeys", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(160), nullable=False, unique=True),
    sa.Column("algorithm", sa.String(32), nullable=False),
    sa.Column("secret", sa.String(255), nullable=False),
    sa.Column("scope", sa.String(10), nullable=False),
    sa.Column("resource_id", Id, nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
)

quotas = sa.Table(
    "quotas", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("resource", sa.String(32), nullable=False),
    sa.Column("hard_limit", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
    sa.UniqueConstraint("project_id", "resource"),
)

tlds = sa.Table(
    "tlds", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.String(160)),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
)

blacklists = sa.Table(
    "blacklists", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("pattern", sa.String(255), nullable=False, unique=True),
    sa.Column("description", sa.String(160)),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
)

zone_transfer_requests = sa.Table(
    "zone_transfer_requests", metadata,
    sa.Column("id", Id, primary_key=True),
    _fk("zone_id", "zones.id", nullable=False, index=True),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("target_project_id", sa.String(255), index=True),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("description", sa.String(160)),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
)

zone_transfer_accepts = sa.Table(
    "zone_transfer_accepts", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("zone_transfer_request_id", Id, nullable=False, index=True),
    sa.Column("zone_id", Id, nullable=False),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
)

shared_zones = sa.Table(
    "shared_zones", metadata,
    sa.Column("id", Id, primary_key=True),
    _fk("zone_id", "zones.id", nullable=False),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("target_project_id", sa.String(255), nullable=False, index=True),
    *_timestamps(),
    sa.UniqueConstraint("zone_id", "target_project_id"),
)

zone_imports = sa.Table(
    "zone_imports", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("message", sa.String(160)),
    sa.Column("zone_id", Id),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
    sa.Index("ix_zone_imports_project_page", "project_id", "created_at", "id"),
)

zone_exports = sa.Table(
    "zone_exports", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("zone_id", Id, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("message", sa.String(160)),
    sa.Column("location", sa.String(255)),
    sa.Column("content", sa.Text),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    *_timestamps(),
    sa.Index("ix_zone_exports_project_page", "project_id", "created_at", "id"),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("project_id", sa.String(255)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("roles", sa.JSON, nullable=False, default=list),
    sa.Column("description", sa.String(160)),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("last_used_at", sa.DateTime),
    *_timestamps(),
)

service_statuses = sa.Table(
    "service_statuses", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("service_name", sa.String(40), nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("stats", sa.JSON, nullable=False, default=dict),
    sa.Column("capabilities", sa.JSON, nullable=False, default=dict),
    sa.Column("heartbeated_at", sa.DateTime),
    *_timestamps(),
    sa.UniqueConstraint("service_name", "hostname"),
)
