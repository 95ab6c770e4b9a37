"""Zones: create, get, list, update, delete, with Designate's rules (designate-api.md §1.1, §2.1)."""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas import wire
from dnsaas.context import Context
from dnsaas.errors import (
    BadRequest,
    DuplicateZone,
    Forbidden,
    IllegalChildZone,
    IllegalParentZone,
    InvalidObject,
    InvalidTTL,
    NoServersConfigured,
    NoValidPoolFound,
    ZoneHasSubZone,
    ZoneIsShared,
    ZoneNotFound,
    error_entry,
)
from dnsaas.names import email_problems, parent_names, ttl_problems, zone_name_problems
from dnsaas.service import bulk, changes, pgfast
from dnsaas.service.base import ServiceBase, iso
from dnsaas.service.listing import ListParams, Page, fetch_page, int_filter, like_or_equal
from dnsaas.storage import tables as t

ZONE_SORT_KEYS = frozenset({"created_at", "id", "updated_at", "name", "tenant_id", "serial",
                            "ttl", "status"})
ZONE_FILTERS = frozenset({"name", "type", "email", "status", "description", "ttl"})
ZONE_TYPES = ("PRIMARY", "SECONDARY")
DESCRIPTION_MAX = 160


def reverse_name(name: str) -> str:
    """``www.example.com.`` → ``com.example.www.``: sub-zones share the parent's prefix."""
    labels = name.rstrip(".").lower().split(".")
    return ".".join(reversed(labels)) + "."


def parse_master(value: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        port = int(port_text)
    else:
        host, port = value, 53
    if not 0 < port < 65536:
        raise ValueError("port out of range")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9.-]+", host):
            raise ValueError("not a host") from None
    return host, port


def format_master(host: str, port: int) -> str:
    """Designate renders port 53 without ``:53``."""
    if port == 53:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def zone_dict(row: Any, shared: bool = False) -> dict[str, Any]:
    """A zone row as the API shows it (without links)."""
    return {
        "id": row.id,
        "pool_id": row.pool_id,
        "project_id": row.project_id,
        "name": row.name,
        "email": row.email,
        "ttl": row.ttl,
        "serial": row.serial,
        "status": row.status,
        "action": row.action,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "description": row.description,
        "type": row.type,
        "masters": list(row.masters or []),
        "attributes": dict(row.attributes or {}),
        "transferred_at": iso(row.transferred_at),
        "shared": shared,
    }


_shared_exists = sa.exists().where(t.shared_zones.c.zone_id == t.zones.c.id)


class ZoneService(ServiceBase):
    """Zone operations."""

    # --- scoping ----------------------------------------------------------------------------
    async def visible_zones(self, conn: AsyncConnection,
                            ctx: Context) -> list[sa.ColumnElement[bool]]:
        """Zones the context may see: its own and those shared with it; live ones only.

        The (usually few) shared zone ids are read first, so that the common case is a plain
        ``project_id = P`` that the (project_id, created_at, id) index answers.
        """
        where: list[sa.ColumnElement[bool]] = [t.zones.c.deleted_at.is_(None)]
        if not ctx.is_admin:
            where.append(t.zones.c.type != "CATALOG")
        if ctx.all_projects and ctx.is_admin and not ctx.sudo_project_id:
            return where
        project = ctx.require_project()
        shared = (await conn.execute(sa.select(t.shared_zones.c.zone_id).where(
            t.shared_zones.c.target_project_id == project))).scalars().all()
        if shared:
            where.append(sa.or_(t.zones.c.project_id == project, t.zones.c.id.in_(shared)))
        else:
            where.append(t.zones.c.project_id == project)
        return where

    def visible_zone_by_id(self, ctx: Context) -> list[sa.ColumnElement[bool]]:
        """Visibility for a lookup by primary key: one query, ``OR EXISTS`` is cheap there."""
        where: list[sa.ColumnElement[bool]] = [t.zones.c.deleted_at.is_(None)]
        if not ctx.is_admin:
            where.append(t.zones.c.type != "CATALOG")
        if ctx.all_projects and ctx.is_admin and not ctx.sudo_project_id:
            return where
        project = ctx.require_project()
        shared_with = sa.exists().where(t.shared_zones.c.zone_id == t.zones.c.id,
                                        t.shared_zones.c.target_project_id == project)
        where.append(sa.or_(t.zones.c.project_id == project, shared_with))
        return where

    async def zone_row(self, conn: AsyncConnection, ctx: Context, zone_id: str, *,
                       lock: bool = False, owner: bool = False) -> Any:
        """The visible zone ``zone_id`` (locked when asked), else 404.

        ``owner``: the caller must own it (shared-zone targets get 403).
        """
        q = sa.select(t.zones, _shared_exists.label("shared")).where(
            t.zones.c.id == zone_id, *self.visible_zone_by_id(ctx))
        if lock and conn.dialect.name == "postgresql":
            q = q.with_for_update(of=t.zones)
        row = (await conn.execute(q)).first()
        if row is None:
            raise ZoneNotFound()
        if owner and not (ctx.all_projects and ctx.is_admin) and row.project_id != ctx.project:
            raise Forbidden("Only the zone owner may do this")
        return row

    # --- reads ------------------------------------------------------------------------------
    async def get_zone(self, ctx: Context, zone_id: str) -> dict[str, Any]:
        if pgfast.enabled(self.engine):
            row = await pgfast.get_zone(self.engine, ctx, zone_id)
            return zone_dict(row, row.shared)

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            row = await self.zone_row(conn, ctx, zone_id)
            return zone_dict(row, row.shared)
        return await self.read(run)

    async def list_zones(self, ctx: Context, params: ListParams) -> Page:
        where: list[sa.ColumnElement[bool]] = []
        for key, value in params.filters.items():
            if key == "ttl":
                where.append(int_filter(t.zones.c.ttl, key, value))
            else:
                where.append(like_or_equal(t.zones.c[key], value))
        sort = {"tenant_id": t.zones.c.project_id}
        if params.sort_key == "tenant_id" and not ctx.all_projects:
            params = ListParams(params.filters, "created_at", params.sort_dir, params.marker,
                                params.limit, params.count)
        if (not params.filters and params.sort_key in pgfast.ZONE_SORT
                and pgfast.ZONE_SORT[params.sort_key] in pgfast.ZONE_PAGE_SORT
                and pgfast.enabled(self.engine)):
            rows, total = await pgfast.zone_page(self.engine, ctx, params.sort_key,
                                                 params.sort_dir, params.marker, params.limit,
                                                 params.count)
            return Page([zone_dict(r, r.shared) for r in rows], total, params.limit)
        name = params.filters.get("name")
        if (len(params.filters) == 1 and name is not None and "*" not in name
                and params.marker is None and pgfast.enabled(self.engine)):
            # The ``?name=`` lookup: few rows (names are unique per pool), so one query
            # fetches them all and the count is their number.
            rows = await pgfast.zones_by_name(self.engine, ctx, name, params.sort_key,
                                              params.sort_dir)
            return Page([zone_dict(r, r.shared) for r in rows[:params.limit]],
                        len(rows) if params.count else None, params.limit)
        select = sa.select(t.zones, _shared_exists.label("shared"))

        async def run(conn: AsyncConnection) -> Page:
            scope = await self.visible_zones(conn, ctx) + where
            known = None
            if params.count and not params.filters:
                known = await self.visible_zone_count(conn, ctx)
            rows, total = await fetch_page(conn, select, t.zones, scope, params, sort, known)
            return Page([zone_dict(r, r.shared) for r in rows], total, params.limit)
        return await self.read(run)

    async def visible_zone_count(self, conn: AsyncConnection, ctx: Context) -> int:
        """Exact number of zones :meth:`visible_zones` lets ``ctx`` see, without counting
        them: the trigger-kept ``zone_counts`` plus the (few) live zones shared with it."""
        counts = t.zone_counts
        if ctx.all_projects and ctx.is_admin and not ctx.sudo_project_id:
            q = sa.select(sa.func.coalesce(sa.func.sum(counts.c.zones), 0))
            return int((await conn.execute(q)).scalar_one())
        project = ctx.require_project()
        own = sa.select(sa.func.coalesce(sa.func.sum(counts.c.zones), 0)).where(
            counts.c.project_id == project)
        shared = sa.select(sa.func.count()).select_from(t.shared_zones.join(
            t.zones, t.zones.c.id == t.shared_zones.c.zone_id)).where(
            t.shared_zones.c.target_project_id == project, t.zones.c.project_id != project,
            t.zones.c.deleted_at.is_(None))
        if not ctx.is_admin:
            own = own.where(counts.c.type != "CATALOG")
            shared = shared.where(t.zones.c.type != "CATALOG")
        q = sa.select(own.scalar_subquery() + shared.scalar_subquery())
        return int((await conn.execute(q)).scalar_one())

    async def zone_nameservers(self, ctx: Context, zone_id: str) -> list[dict[str, Any]]:
        async def run(conn: AsyncConnection) -> list[dict[str, Any]]:
            zone = await self.zone_row(conn, ctx, zone_id)
            rows = (await conn.execute(
                sa.select(t.pool_ns_records).where(t.pool_ns_records.c.pool_id == zone.pool_id)
                .order_by(t.pool_ns_records.c.created_at))).all()
            return [{"hostname": r.hostname, "priority": r.priority} for r in rows]
        return await self.read(run)

    async def check_zone_quota(self, conn: AsyncConnection, project: str,
                               limits: dict[str, int], adding: int) -> None:
        """413 when the project's live zones (any type) + ``adding`` exceed its quota."""
        if limits["zones"] < 0:
            return
        current = (await conn.execute(sa.select(sa.func.coalesce(
            sa.func.sum(t.zone_counts.c.zones), 0)).where(
            t.zone_counts.c.project_id == project))).scalar_one()
        await self.check_quota(conn, project, "zones", None, adding, int(current), limits)

    # --- validation -------------------------------------------------------------------------
    def _check_zone_fields(self, ctx: Context, values: dict[str, Any], *, create: bool,
                           zone_type: str) -> None:
        errors: list[dict[str, Any]] = []
        if create:
            name = values.get("name")
            if not isinstance(name, str):
                errors.append(error_entry(["name"], "'name' is a required property", "required"))
            else:
                errors += [error_entry(["name"], m) for m in zone_name_problems(name)]
        if "email" in values:
            email = values["email"]
            if zone_type == "SECONDARY" and email is not None:
                errors.append(error_entry(["email"], "email is not allowed for SECONDARY zones"))
            elif not isinstance(email, str):
                errors.append(error_entry(["email"], f"{email!r} is not of type 'string'", "type"))
            else:
                errors += [error_entry(["email"], m) for m in email_problems(email)]
        elif create and zone_type == "PRIMARY":
            errors.append(error_entry(["email"], "'email' is a required property", "required"))
        if "ttl" in values and values["ttl"] is not None:
            if zone_type == "SECONDARY":
                errors.append(error_entry(["ttl"], "ttl is not allowed for SECONDARY zones"))
            errors += [error_entry(["ttl"], m) for m in ttl_problems(values["ttl"])]
        desc = values.get("description")
        if desc is not None and (not isinstance(desc, str) or len(desc) > DESCRIPTION_MAX):
            errors.append(error_entry(["description"], "description must be a string of at "
                                      f"most {DESCRIPTION_MAX} characters", "maxLength"))
        masters = values.get("masters")
        if masters is not None:
            if not isinstance(masters, list):
                errors.append(error_entry(["masters"], "masters must be a list", "type"))
            else:
                for i, m in enumerate(masters):
                    try:
                        if not isinstance(m, str):
                            raise ValueError
                        parse_master(m)
                    except ValueError:
                        errors.append(error_entry(["masters", i], f"{m!r} is not a valid master"))
        attrs = values.get("attributes")
        if attrs is not None and (not isinstance(attrs, dict) or any(
                not isinstance(k, str) or not isinstance(v, str) or len(k) > 50 or len(v) > 50
                for k, v in attrs.items())):
            errors.append(error_entry(["attributes"], "attributes must map strings of at most "
                                      "50 characters to strings of at most 50 characters"))
        if errors:
            raise InvalidObject(errors[0]["message"], errors=errors)
        ttl = values.get("ttl")
        if isinstance(ttl, int) and ttl < self.settings.min_ttl and not ctx.is_admin:
            raise InvalidTTL(f"TTL is below the minimum: {self.settings.min_ttl}")

    async def _check_name_policy(self, conn: AsyncConnection, ctx: Context, name: str) -> None:
        """TLD and blacklist rules."""
        tld_rows = (await conn.execute(sa.select(t.tlds.c.name).limit(1))).first()
        if tld_rows is not None:
            candidates = [n.rstrip(".").lower() for n in parent_names(name)]
            found = (await conn.execute(sa.select(t.tlds.c.name).where(
                sa.func.lower(t.tlds.c.name).in_(candidates)))).first()
            exact = (await conn.execute(sa.select(t.tlds.c.id).where(
                sa.func.lower(t.tlds.c.name) == name.rstrip(".").lower()))).first()
            if found is None or exact is not None:
                raise InvalidObject.single(["name"], "Invalid TLD")
        if not ctx.is_admin:
            for (pattern,) in (await conn.execute(sa.select(t.blacklists.c.pattern))).all():
                try:
                    if re.search(pattern, name):
                        raise InvalidObject.single(["name"], "Blacklisted zone name")
                except re.error:
                    continue

    async def _check_conflicts(self, conn: AsyncConnection, project: str, name: str,
                               pool_id: str) -> str | None:
        """Cross-tenant rules; returns the id of the closest same-project parent zone."""
        live = t.zones.c.deleted_at.is_(None)
        same = (await conn.execute(sa.select(t.zones.c.project_id, t.zones.c.pool_id).where(
            t.zones.c.name == name, live))).all()
        for row in same:
            if row.project_id != project or row.pool_id == pool_id:
                raise DuplicateZone()
        parents = (await conn.execute(
            sa.select(t.zones.c.id, t.zones.c.name, t.zones.c.project_id)
            .where(t.zones.c.name.in_(parent_names(name)), live))).all()
        parent_id, depth = None, -1
        for p in parents:
            if p.project_id != project:
                raise IllegalChildZone()
            if p.name.count(".") > depth:
                parent_id, depth = p.id, p.name.count(".")
        rev = reverse_name(name)
        child = (await conn.execute(sa.select(t.zones.c.project_id).where(
            t.zones.c.reverse_name > rev, t.zones.c.reverse_name < rev[:-1] + "/",
            t.zones.c.project_id != project, live).limit(1))).first()
        if child is not None:
            raise IllegalParentZone()
        return parent_id

    async def _pool_for(self, conn: AsyncConnection, ctx: Context,
                        attributes: dict[str, str]) -> str:
        pool_id = attributes.get("pool_id")
        if pool_id is not None and not ctx.is_admin:
            raise Forbidden("Only admins may choose the pool")
        pool_id = pool_id or self.settings.default_pool_id
        exists = (await conn.execute(sa.select(t.pools.c.id).where(t.pools.c.id == pool_id))
                  ).first()
        if exists is None:
            raise NoValidPoolFound()
        return pool_id

    # --- writes -----------------------------------------------------------------------------
    async def create_zone(self, ctx: Context, values: dict[str, Any], *,
                          extra_rrsets: list[dict[str, Any]] | None = None,
                          serial: int | None = None,
                          prepared: bulk.PreparedRows | None = None,
                          in_tx: Callable[[AsyncConnection, str], Awaitable[None]] | None = None,
                          ) -> dict[str, Any]:
        """Create a zone with its managed SOA and NS recordsets; 202 PENDING CREATE.

        ``prepared``: more recordsets as row chunks (a zone import), written chunk by chunk.
        ``in_tx(conn, zone_id)`` runs at the end of the same transaction (a zone import marks
        its task COMPLETE there, so a task is never left PENDING beside its zone)."""
        ctx.require_writer()
        project = ctx.require_project()
        zone_type = values.get("type") or "PRIMARY"
        if zone_type == "CATALOG":
            raise Forbidden("CATALOG zones cannot be created through the API")
        if zone_type not in ZONE_TYPES:
            raise InvalidObject.single(["type"], f"{zone_type!r} is not one of {list(ZONE_TYPES)}",
                                       "enum")
        self._check_zone_fields(ctx, values, create=True, zone_type=zone_type)
        masters = values.get("masters") or []
        if zone_type == "SECONDARY" and not masters:
            raise InvalidObject.single(["masters"], "masters are required for SECONDARY zones",
                                       "required")
        if zone_type == "PRIMARY" and masters:
            raise InvalidObject.single(["masters"], "masters are only allowed for SECONDARY zones")
        name = values["name"].lower()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            limits = await self.quotas_of(conn, project)
            await self.check_zone_quota(conn, project, limits, adding=1)
            await self._check_name_policy(conn, ctx, name)
            attributes = dict(values.get("attributes") or {})
            pool_id = await self._pool_for(conn, ctx, attributes)
            parent_id = await self._check_conflicts(conn, project, name, pool_id)
            ns_rows = (await conn.execute(
                sa.select(t.pool_ns_records).where(t.pool_ns_records.c.pool_id == pool_id)
                .order_by(t.pool_ns_records.c.created_at, t.pool_ns_records.c.priority))).all()
            if not ns_rows:
                raise NoServersConfigured()
            now = changes.utcnow()
            zone_serial = serial or (1 if zone_type == "SECONDARY" else changes.next_serial(0))
            zone_values = dict(
                id=changes.new_id(), project_id=project, pool_id=pool_id, name=name,
                reverse_name=reverse_name(name),
                email=values.get("email") or self.settings.managed_resource_email,
                ttl=values.get("ttl") if values.get("ttl") is not None
                else self.settings.default_ttl,
                # SOA timers: Designate's defaults; a zone import passes the file's.
                refresh=values.get("refresh") or random.randint(3500, 3600),
                retry=values.get("retry") or 600, expire=values.get("expire") or 86400,
                minimum=values.get("minimum") or 3600,
                serial=zone_serial, type=zone_type,
                masters=[format_master(*parse_master(m)) for m in masters],
                description=values.get("description"), attributes=attributes,
                status="PENDING", action="CREATE", parent_zone_id=parent_id, version=1,
                recordset_count=0, created_at=now)
            # Existing same-project subzones now have this zone as parent. Before the insert:
            # its trigger locks the project's counter row, which is always taken after zone
            # rows (a soft delete locks its zone, then the counter), so no deadlock.
            rev = zone_values["reverse_name"]
            await conn.execute(t.zones.update().where(
                t.zones.c.reverse_name > rev, t.zones.c.reverse_name < rev[:-1] + "/",
                t.zones.c.project_id == project, t.zones.c.deleted_at.is_(None)
            ).values(parent_zone_id=zone_values["id"]))
            await conn.execute(t.zones.insert().values(**zone_values))
            # Again, now under the counter's row lock: concurrent creates cannot overshoot.
            await self.check_zone_quota(conn, project, limits, adding=0)
            zone = _Row(zone_values)
            soa_text, soa_wire = changes.soa_for(zone, zone_serial, ns_rows[0].hostname)
            ns = [(r.hostname, wire.name_wire(r.hostname)) for r in ns_rows]
            managed = [("SOA", [(soa_text, soa_wire)]), ("NS", ns)]
            rrsets = [dict(name=name, type=rt, ttl=None, records=recs, managed=True)
                      for rt, recs in managed]
            rrsets += extra_rrsets or []
            await insert_rrsets(conn, zone, project, rrsets, now, want_rrs=False)
            if prepared is not None:
                counted = await bulk.insert_prepared(conn, zone, project, prepared, now,
                                                     zone_serial)
                await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(
                    recordset_count=t.zones.c.recordset_count + counted))
            await changes.upsert_job(conn, zone_values["id"], "propagate", zone_serial)
            if zone_type == "SECONDARY":
                await changes.upsert_job(conn, zone_values["id"], "transfer", zone_serial)
            if in_tx is not None:
                await in_tx(conn, zone_values["id"])
            return zone_dict(zone)
        return await self.tx(run)

    async def update_zone(self, ctx: Context, zone_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """PATCH: email, ttl, description (and masters of SECONDARY zones)."""
        ctx.require_writer()
        for immutable in ("name", "type", "project_id", "pool_id", "id"):
            if immutable in values:
                raise BadRequest(f"Changing {immutable} is not allowed")

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True, owner=True)
            if zone.action == "DELETE":
                raise BadRequest("Can not update a deleting zone")
            self._check_zone_fields(ctx, values, create=False, zone_type=zone.type)
            if zone.type == "PRIMARY" and values.get("masters"):
                raise InvalidObject.single(["masters"],
                                           "masters are only allowed for SECONDARY zones")
            if "attributes" in values and "pool_id" in (values["attributes"] or {}):
                raise BadRequest("Use the pool_move task to move a zone to another pool")
            update = {k: v for k, v in values.items()
                      if k in ("email", "ttl", "description", "attributes", "masters")}
            if "masters" in update:
                update["masters"] = [format_master(*parse_master(m)) for m in update["masters"]]
            if update.get("ttl", zone.ttl) is None:
                update["ttl"] = self.settings.default_ttl
            dns_visible = any(update.get(k, getattr(zone, k)) != getattr(zone, k)
                              for k in ("email", "ttl"))
            if zone.type == "PRIMARY" and (dns_visible or update):
                incremental = update.get("ttl", zone.ttl) == zone.ttl
                await changes.commit_change(conn, zone, [], [], incremental=incremental,
                                            zone_values=update,
                                            retention=self.settings.journal_retention)
            else:
                update.update(version=zone.version + 1, updated_at=changes.utcnow())
                await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(**update))
                if "masters" in values and zone.type == "SECONDARY":
                    await changes.upsert_job(conn, zone.id, "transfer", zone.serial)
            row = await self.zone_row(conn, ctx, zone_id)
            return zone_dict(row, row.shared)
        return await self.tx(run)

    async def delete_zone(self, ctx: Context, zone_id: str) -> dict[str, Any]:
        """Mark the zone PENDING DELETE; the worker removes it from the nameservers."""
        ctx.require_writer()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True, owner=True)
            child = (await conn.execute(sa.select(t.zones.c.id).where(
                t.zones.c.reverse_name > zone.reverse_name,
                t.zones.c.reverse_name < zone.reverse_name[:-1] + "/",
                t.zones.c.deleted_at.is_(None)).limit(1))).first()
            if child is not None:
                raise ZoneHasSubZone()
            if zone.shared:
                if not ctx.delete_shares:
                    raise ZoneIsShared()
                await conn.execute(t.shared_zones.delete().where(
                    t.shared_zones.c.zone_id == zone.id))
            now = changes.utcnow()
            await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(
                action="DELETE", status="PENDING", updated_at=now, version=zone.version + 1))
            await changes.upsert_job(conn, zone.id, "propagate", zone.serial,
                                     payload={"hard_delete": ctx.hard_delete})
            row = await self.zone_row(conn, ctx, zone_id)
            return zone_dict(row, False)
        return await self.tx(run)


class _Row:
    """Attribute access over a dict (a zone row not yet read back)."""

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)
        self.__dict__.setdefault("updated_at", None)
        self.__dict__.setdefault("transferred_at", None)
        self.__dict__.setdefault("deleted_at", None)


async def insert_rrsets(conn: AsyncConnection, zone: Any, project: str,
                        rrsets: list[dict[str, Any]], now: Any,
                        serial: int | None = None, want_rrs: bool = True) -> list[bytes]:
    """Bulk-insert recordsets with their (text, wire) records; returns their wire RRs
    (none when ``want_rrs`` is False, which saves building them for big imports)."""
    rs_rows, rec_rows, rrs = [], [], []
    serial = zone.serial if serial is None else serial
    if not want_rrs and len(rrsets) + sum(len(rs["records"]) for rs in rrsets) >= bulk.BULK_MIN_ROWS:
        counted = await bulk.insert_rrsets(conn, zone, project, rrsets, now, serial)
        await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(
            recordset_count=t.zones.c.recordset_count + counted))
        return rrs
    for rs in rrsets:
        rs_id = changes.new_id()
        managed = bool(rs.get("managed"))
        rs_rows.append(dict(
            id=rs_id, zone_id=zone.id, project_id=rs.get("project_id") or project,
            name=rs["name"], type=rs["type"], ttl=rs.get("ttl"),
            description=rs.get("description"), managed=managed, status="PENDING",
            action="CREATE", serial=serial, version=1, created_at=now))
        ttl = changes.effective_ttl(rs.get("ttl"), zone.ttl)
        head = wire.axfr_head(rs["name"], zone.name, rs["type"])
        if want_rrs:
            owner, code = wire.name_wire(rs["name"]), wire.type_code(rs["type"])
        for text, rdata in rs["records"]:
            rec_rows.append(dict(
                id=changes.new_id(), recordset_id=rs_id, zone_id=zone.id, data=text,
                rdata=rdata, axfr_rr=wire.axfr_rr(head, ttl, rdata), managed=managed,
                status="PENDING", action="CREATE", serial=serial, version=1, created_at=now))
            if want_rrs and rs["type"] != "SOA":
                rrs.append(wire.rr(owner, code, ttl, rdata))
        rs["id"] = rs_id
    if len(rs_rows) + len(rec_rows) >= bulk.BULK_MIN_ROWS:  # zone imports: driver bulk path
        await bulk.bulk_insert(conn, t.recordsets, rs_rows)
        await bulk.bulk_insert(conn, t.records, rec_rows)
        rs_rows, rec_rows, counted = [], [], len(rs_rows)
    else:
        counted = len(rs_rows)
    if rs_rows:
        await conn.execute(t.recordsets.insert(), rs_rows)
    if counted:
        await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(
            recordset_count=t.zones.c.recordset_count + counted))
    if rec_rows:
        await conn.execute(t.records.insert(), rec_rows)
    return rrs
