"""Recordsets: create, get, list (per zone and across zones), update, delete (§1.2, §1.3)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas import wire
from dnsaas.context import Context
from dnsaas.errors import (
    BadRequest,
    DuplicateRecordSet,
    InvalidObject,
    InvalidRecordSetLocation,
    InvalidTTL,
    RecordSetNotFound,
    error_entry,
)
from dnsaas.names import in_zone, is_subdomain, parent_names, recordset_name_problems, ttl_problems
from dnsaas.records import SUPPORTED_TYPES, ParsedRecord, parse_records
from dnsaas.service import changes, pgcreate, pgfast
from dnsaas.service.base import iso
from dnsaas.service.listing import ListParams, Page, fetch_page, int_filter, like_or_equal
from dnsaas.service.zones import DESCRIPTION_MAX, ZoneService, insert_rrsets
from dnsaas.storage import tables as t

RECORDSET_SORT_KEYS = frozenset({"created_at", "id", "updated_at", "zone_id", "tenant_id", "name",
                                 "type", "ttl", "records"})
ALL_RECORDSETS_SORT_KEYS = frozenset({"created_at", "id", "updated_at", "zone_id", "tenant_id",
                                      "name", "type", "ttl"})
RECORDSET_FILTERS = frozenset({"name", "type", "ttl", "data", "status", "description"})
ALL_RECORDSETS_FILTERS = RECORDSET_FILTERS | {"zone_id"}

_rs_cols = [t.recordsets, t.zones.c.name.label("zone_name")]


def recordset_dict(row: Any, records: list[str]) -> dict[str, Any]:
    """A recordset row as the API shows it (without links)."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "zone_id": row.zone_id,
        "zone_name": row.zone_name,
        "name": row.name,
        "type": row.type,
        "ttl": row.ttl,
        "records": records,
        "description": row.description,
        "status": row.status,
        "action": row.action,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


class _RS:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)


async def _records_of(conn: AsyncConnection, rs_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if rs_ids:
        rows = await conn.execute(
            sa.select(t.records.c.recordset_id, t.records.c.data)
            .where(t.records.c.recordset_id.in_(rs_ids))
            .order_by(t.records.c.created_at, t.records.c.id))
        for r in rows:
            out[r.recordset_id].append(r.data)
    return out


class RecordsetService(ZoneService):
    """Recordset operations (a zone service underneath, for the zone rules)."""

    # --- validation -------------------------------------------------------------------------
    def _check_rs_fields(self, ctx: Context, values: dict[str, Any], create: bool) -> None:
        errors: list[dict[str, Any]] = []
        if create:
            for key in ("name", "type"):
                if not isinstance(values.get(key), str):
                    errors.append(error_entry([key], f"'{key}' is a required property",
                                              "required"))
            rtype = values.get("type")
            if isinstance(rtype, str) and rtype not in SUPPORTED_TYPES:
                errors.append(error_entry(["type"], f"{rtype!r} is not a supported record type",
                                          "enum", sorted(SUPPORTED_TYPES)))
            if isinstance(values.get("name"), str) and isinstance(rtype, str):
                errors += [error_entry(["name"], m)
                           for m in recordset_name_problems(values["name"], rtype)]
            if "records" not in values:
                errors.append(error_entry(["records"], "'records' is a required property",
                                          "required"))
        if values.get("ttl") is not None:
            errors += [error_entry(["ttl"], m) for m in ttl_problems(values["ttl"])]
        desc = values.get("description")
        if desc is not None and (not isinstance(desc, str) or len(desc) > DESCRIPTION_MAX):
            errors.append(error_entry(["description"], "description must be a string of at "
                                      f"most {DESCRIPTION_MAX} characters", "maxLength"))
        if "records" in values and isinstance(values["records"], list) and not values["records"]:
            errors.append(error_entry(["records"], "records must not be empty", "minItems"))
        if errors:
            raise InvalidObject(errors[0]["message"], errors=errors)
        ttl = values.get("ttl")
        if isinstance(ttl, int) and ttl < self.settings.min_ttl and not ctx.is_admin:
            raise InvalidTTL(f"TTL is below the minimum: {self.settings.min_ttl}")

    async def _check_location(self, conn: AsyncConnection, zone: Any, name: str,
                              rtype: str) -> None:
        if not in_zone(name, zone.name):
            raise InvalidRecordSetLocation(
                "RecordSet belongs in a child zone or is not in the zone")
        if rtype == "CNAME" and name == zone.name:
            raise InvalidRecordSetLocation("CNAME recordsets may not be created at the zone apex")
        if name != zone.name:
            candidates = [n for n in [name, *parent_names(name)] if is_subdomain(n, zone.name)]
            child = (await conn.execute(sa.select(t.zones.c.id).where(
                t.zones.c.name.in_(candidates), t.zones.c.deleted_at.is_(None)).limit(1))).first()
            if child is not None:
                raise InvalidRecordSetLocation("RecordSet belongs in a child zone")
        others = (await conn.execute(sa.select(t.recordsets.c.type).where(
            t.recordsets.c.zone_id == zone.id, t.recordsets.c.name == name))).scalars().all()
        if rtype in others:
            raise DuplicateRecordSet()
        if (rtype == "CNAME" and others) or "CNAME" in others:
            raise InvalidRecordSetLocation(
                "CNAME recordsets may not share a name with any other records")

    async def _check_record_quotas(self, conn: AsyncConnection, zone: Any, adding_sets: int,
                                   new_count: int, delta_records: int) -> None:
        limits = await self.quotas_of(conn, zone.project_id)
        await self.check_quota(conn, zone.project_id, "recordset_records", None, 0,
                               current=new_count, limits=limits)
        if adding_sets:
            await self.check_quota(conn, zone.project_id, "zone_recordsets", None, adding_sets,
                                   current=zone.recordset_count, limits=limits)
        if delta_records > 0:
            await self.check_quota(conn, zone.project_id, "zone_records", sa.select(
                t.records.c.id).where(t.records.c.zone_id == zone.id,
                                      t.records.c.managed.is_(False)), delta_records,
                                   limits=limits)

    def _writable(self, zone: Any) -> None:
        if zone.action == "DELETE":
            raise BadRequest("Can not update a deleting zone")
        if zone.type == "SECONDARY":
            raise BadRequest("Recordsets of SECONDARY zones come from their masters")

    # --- reads ------------------------------------------------------------------------------
    async def get_recordset(self, ctx: Context, zone_id: str, rs_id: str) -> dict[str, Any]:
        if pgfast.enabled(self.engine):
            return await pgfast.get_recordset(self.engine, ctx, zone_id, rs_id)

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            await self.zone_row(conn, ctx, zone_id)
            row = (await conn.execute(sa.select(*_rs_cols).join(
                t.zones, t.zones.c.id == t.recordsets.c.zone_id).where(
                t.recordsets.c.id == rs_id, t.recordsets.c.zone_id == zone_id))).first()
            if row is None:
                raise RecordSetNotFound()
            return recordset_dict(row, (await _records_of(conn, [rs_id]))[rs_id])
        return await self.read(run)

    async def find_recordset_zone(self, ctx: Context, rs_id: str) -> str:
        """The zone id of a visible recordset (for the ``/v2/recordsets/{id}`` redirect)."""
        async def run(conn: AsyncConnection) -> str:
            row = (await conn.execute(sa.select(t.recordsets.c.zone_id).join(
                t.zones, t.zones.c.id == t.recordsets.c.zone_id).where(
                t.recordsets.c.id == rs_id, *await self.visible_zones(conn, ctx)))).first()
            if row is None:
                raise RecordSetNotFound()
            return str(row.zone_id)
        return await self.read(run)

    async def list_recordsets(self, ctx: Context, zone_id: str | None,
                              params: ListParams) -> Page:
        """Recordsets of one zone, or of every visible zone when ``zone_id`` is None."""
        if (zone_id is not None and not params.filters and pgfast.enabled(self.engine)
                and (params.marker is None or params.sort_key in pgfast.RS_MARKER_SORT)):
            items, count = await pgfast.zone_recordsets(self.engine, ctx, zone_id,
                                                        params.sort_key, params.sort_dir,
                                                        params.limit, params.marker)
            return Page(items, count if params.count else None, params.limit)
        where: list[sa.ColumnElement[bool]] = []
        if zone_id is not None:
            where.append(t.recordsets.c.zone_id == zone_id)
        for key, value in params.filters.items():
            if key == "ttl":
                where.append(int_filter(t.recordsets.c.ttl, key, value))
            elif key == "data":
                where.append(sa.exists().where(t.records.c.recordset_id == t.recordsets.c.id,
                                               like_or_equal(t.records.c.data, value)))
            else:
                where.append(like_or_equal(t.recordsets.c[key], value))
        sort = {"tenant_id": t.recordsets.c.project_id, "records": t.recordsets.c.name}
        select = sa.select(*_rs_cols).join(t.zones, t.zones.c.id == t.recordsets.c.zone_id)

        async def run(conn: AsyncConnection) -> Page:
            known_total = None
            if zone_id is not None:  # the zone's visibility is checked once, here
                zone = await self.zone_row(conn, ctx, zone_id)
                scope = where
                if not params.filters:
                    known_total = zone.recordset_count
            else:
                scope = await self.visible_zones(conn, ctx) + where
            rows, total = await fetch_page(conn, select, t.recordsets, scope, params, sort,
                                           known_total)
            recs = await _records_of(conn, [r.id for r in rows])
            return Page([recordset_dict(r, recs[r.id]) for r in rows], total, params.limit)
        return await self.read(run)

    # --- writes -----------------------------------------------------------------------------
    async def create_recordset(self, ctx: Context, zone_id: str,
                               values: dict[str, Any]) -> dict[str, Any]:
        ctx.require_writer()
        self._check_rs_fields(ctx, values, create=True)
        name, rtype = values["name"].lower(), values["type"]
        if rtype == "SOA":
            raise BadRequest("Creating a SOA recordset is not allowed")
        parsed = parse_records(rtype, name, values["records"])
        if pgfast.enabled(self.engine):
            return await pgcreate.create_recordset(self, ctx, zone_id, name, rtype, values,
                                                   parsed)
        return await self._create_recordset_sa(ctx, zone_id, name, rtype, values, parsed)

    async def _create_recordset_sa(self, ctx: Context, zone_id: str, name: str, rtype: str,
                                   values: dict[str, Any],
                                   parsed: list[ParsedRecord]) -> dict[str, Any]:
        """The create on SQLAlchemy (SQLite, and cases the PostgreSQL hot path leaves out)."""
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True)
            self._writable(zone)
            await self._check_location(conn, zone, name, rtype)
            await self._check_record_quotas(conn, zone, 1, len(parsed), len(parsed))
            serial = changes.next_serial(zone.serial)
            now = changes.utcnow()
            rs = dict(name=name, type=rtype, ttl=values.get("ttl"),
                      description=values.get("description"), project_id=ctx.project or
                      zone.project_id, records=[(p.data, p.wire) for p in parsed])
            added = await insert_rrsets(conn, zone, zone.project_id, [rs], now, serial=serial)
            await changes.commit_change(conn, zone, [], added, serial=serial,
                                        retention=self.settings.journal_retention)
            out = recordset_dict(_RS(dict(
                rs, zone_id=zone.id, zone_name=zone.name, status="PENDING", action="CREATE",
                version=1, created_at=now, updated_at=None)), [p.data for p in parsed])
            out["_serial"] = serial
            return out
        return await self.tx(run)

    async def _rs_for_write(self, conn: AsyncConnection, ctx: Context, zone: Any,
                            rs_id: str) -> Any:
        row = (await conn.execute(sa.select(*_rs_cols).join(
            t.zones, t.zones.c.id == t.recordsets.c.zone_id).where(
            t.recordsets.c.id == rs_id, t.recordsets.c.zone_id == zone.id))).first()
        if row is None:
            raise RecordSetNotFound()
        if row.type == "SOA":
            raise BadRequest("Updating or deleting a SOA recordset is not allowed")
        if row.managed and not (ctx.edit_managed and ctx.is_admin):
            if row.type == "NS" and row.name == zone.name:
                raise BadRequest("Updating or deleting the root zone NS recordset is not allowed")
            raise BadRequest("Managed records may not be updated or deleted")
        return row

    async def update_recordset(self, ctx: Context, zone_id: str, rs_id: str,
                               values: dict[str, Any]) -> dict[str, Any]:
        """PUT: replace records (unchanged ones keep their rows), ttl, description."""
        ctx.require_writer()
        self._check_rs_fields(ctx, values, create=False)

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True)
            self._writable(zone)
            rs = await self._rs_for_write(conn, ctx, zone, rs_id)
            for key in ("name", "type"):
                if key in values and str(values[key]).lower() != str(getattr(rs, key)).lower():
                    raise BadRequest(f"Changing a recordset's {key} is not allowed")
            old = (await conn.execute(sa.select(t.records.c.id, t.records.c.data,
                                                t.records.c.rdata)
                                      .where(t.records.c.recordset_id == rs.id))).all()
            new: list[ParsedRecord] = (parse_records(rs.type, rs.name, values["records"])
                                       if "records" in values else
                                       [ParsedRecord(r.data, r.rdata) for r in old])
            old_ttl = changes.effective_ttl(rs.ttl, zone.ttl)
            ttl = values["ttl"] if "ttl" in values else rs.ttl
            new_ttl = changes.effective_ttl(ttl, zone.ttl)
            new_data = {p.data for p in new}
            old_data = {r.data for r in old}
            gone = [r for r in old if r.data not in new_data]
            fresh = [p for p in new if p.data not in old_data]
            await self._check_record_quotas(conn, zone, 0, len(new), len(fresh) - len(gone))
            owner, code = wire.name_wire(rs.name), wire.type_code(rs.type)
            if new_ttl != old_ttl:
                removed = [wire.rr(owner, code, old_ttl, r.rdata) for r in old]
                added = [wire.rr(owner, code, new_ttl, p.wire) for p in new]
            else:
                removed = [wire.rr(owner, code, old_ttl, r.rdata) for r in gone]
                added = [wire.rr(owner, code, new_ttl, p.wire) for p in fresh]
            serial = changes.next_serial(zone.serial)
            now = changes.utcnow()
            if gone:
                await conn.execute(t.records.delete().where(
                    t.records.c.id.in_([r.id for r in gone])))
            if fresh:
                head = wire.axfr_head(rs.name, zone.name, rs.type)
                await conn.execute(t.records.insert(), [dict(
                    id=changes.new_id(), recordset_id=rs.id, zone_id=zone.id, data=p.data,
                    rdata=p.wire, axfr_rr=wire.axfr_rr(head, new_ttl, p.wire), managed=rs.managed,
                    status="PENDING", action="CREATE", serial=serial, version=1,
                    created_at=now) for p in fresh])
            rs_values = dict(ttl=ttl, status="PENDING", action="UPDATE", serial=serial,
                             version=rs.version + 1, updated_at=now,
                             description=values.get("description", rs.description))
            await conn.execute(t.recordsets.update().where(t.recordsets.c.id == rs.id)
                               .values(**rs_values))
            if removed or added:
                await changes.commit_change(conn, zone, removed, added, serial=serial,
                                            retention=self.settings.journal_retention)
            row = (await conn.execute(sa.select(*_rs_cols).join(
                t.zones, t.zones.c.id == t.recordsets.c.zone_id).where(
                t.recordsets.c.id == rs.id))).one()
            out = recordset_dict(row, (await _records_of(conn, [rs.id]))[rs.id])
            out["_serial"] = serial if (removed or added) else zone.serial
            return out
        return await self.tx(run)

    async def delete_recordset(self, ctx: Context, zone_id: str, rs_id: str) -> dict[str, Any]:
        """Remove the recordset; the body shows it PENDING DELETE."""
        ctx.require_writer()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True)
            self._writable(zone)
            rs = await self._rs_for_write(conn, ctx, zone, rs_id)
            recs = (await conn.execute(sa.select(t.records.c.data, t.records.c.rdata).where(
                t.records.c.recordset_id == rs.id).order_by(t.records.c.created_at))).all()
            owner, code = wire.name_wire(rs.name), wire.type_code(rs.type)
            ttl = changes.effective_ttl(rs.ttl, zone.ttl)
            removed = [wire.rr(owner, code, ttl, r.rdata) for r in recs]
            await conn.execute(t.records.delete().where(t.records.c.recordset_id == rs.id))
            await conn.execute(t.recordsets.delete().where(t.recordsets.c.id == rs.id))
            await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(
                recordset_count=t.zones.c.recordset_count - 1))
            serial = await changes.commit_change(conn, zone, removed, [],
                                                 retention=self.settings.journal_retention)
            out = recordset_dict(rs, [r.data for r in recs])
            out.update(status="PENDING", action="DELETE", version=rs.version + 1,
                       updated_at=iso(changes.utcnow()))
            out["_serial"] = serial
            return out
        return await self.tx(run)
