"""Admin resources: TLDs, blacklists, TSIG keys, quotas, pools and service statuses
(designate-api.md §1.9–§1.15)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas import errors as e
from dnsaas.context import Context
from dnsaas.names import fqdn_problems, tld_name_problems
from dnsaas.pools import CATALOG_SCOPE
from dnsaas.service import changes
from dnsaas.service.base import ServiceBase, iso
from dnsaas.service.listing import ListParams, Page, fetch_page, like_or_equal
from dnsaas.settings import QuotaDefaults
from dnsaas.storage import tables as t

TSIG_ALGORITHMS = ("hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384",
                   "hmac-sha512")
QUOTA_RESOURCES = tuple(QuotaDefaults.model_fields)
QUOTA_MAX = 2147483647


@dataclass(frozen=True)
class Resource:
    """A simple admin table: its columns, rules and errors."""

    table: sa.Table
    fields: tuple[str, ...]
    not_found: type[e.NotFound]
    duplicate: type[e.Duplicate]
    filters: frozenset[str]
    sort_keys: frozenset[str]


TLDS = Resource(t.tlds, ("name", "description"), e.TldNotFound, e.DuplicateTld,
                frozenset({"name"}), frozenset({"created_at", "id", "updated_at", "name"}))
BLACKLISTS = Resource(t.blacklists, ("pattern", "description"), e.BlacklistNotFound,
                      e.DuplicateBlacklist, frozenset({"pattern"}),
                      frozenset({"created_at", "id", "updated_at", "pattern"}))
TSIGKEYS = Resource(t.tsigkeys, ("name", "algorithm", "secret", "scope", "resource_id"),
                    e.TsigKeyNotFound, e.DuplicateTsigKey,
                    frozenset({"name", "algorithm", "scope"}),
                    frozenset({"created_at", "id", "updated_at", "name"}))
SERVICE_STATUSES = Resource(t.service_statuses, (), e.ServiceStatusNotFound, e.Duplicate,
                            frozenset({"hostname", "service_name", "status"}),
                            frozenset({"created_at", "id", "updated_at", "hostname",
                                       "service_name", "status"}))
POOLS = Resource(t.pools, ("name", "description", "attributes", "ns_records"), e.PoolNotFound,
                 e.DuplicatePool, frozenset({"name"}),
                 frozenset({"created_at", "id", "updated_at", "name"}))


def row_dict(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """An admin row as the API shows it."""
    out: dict[str, Any] = {"id": row.id}
    for f in fields:
        out[f] = getattr(row, f)
    out["created_at"] = iso(row.created_at)
    out["updated_at"] = iso(row.updated_at)
    return out


def _problem(path: str, message: str) -> e.InvalidObject:
    return e.InvalidObject.single([path], message)


def _catalog_key_problem() -> e.InvalidObject:
    return _problem("scope", "this key guards a pool's catalog zone and is managed by pools.yaml "
                    "(catalog_zone_tsig_key, catalog_zone_tsig_algorithm)")


def _check_description(values: dict[str, Any]) -> None:
    d = values.get("description")
    if d is not None and (not isinstance(d, str) or len(d) > 160):
        raise _problem("description", "description must be a string of at most 160 characters")


class AdminService(ServiceBase):
    """TLDs, blacklists, TSIG keys, quotas, pools, service statuses."""

    # --- generic CRUD -------------------------------------------------------------------------
    async def _list(self, ctx: Context, res: Resource, params: ListParams,
                    to_dict: Any = None) -> Page:
        ctx.require_admin()
        where = [like_or_equal(res.table.c[k], v) for k, v in params.filters.items()]

        async def run(conn: AsyncConnection) -> Page:
            rows, total = await fetch_page(conn, sa.select(res.table), res.table, where, params)
            conv = to_dict or (lambda r: row_dict(r, res.fields))
            items = [await conv(conn, r) if to_dict else conv(r) for r in rows]
            return Page(items, total, params.limit)
        return await self.read(run)

    async def _get_row(self, conn: AsyncConnection, res: Resource, rid: str) -> Any:
        row = (await conn.execute(sa.select(res.table).where(res.table.c.id == rid))).first()
        if row is None:
            raise res.not_found()
        return row

    async def _get(self, ctx: Context, res: Resource, rid: str) -> dict[str, Any]:
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            return row_dict(await self._get_row(conn, res, rid), res.fields)
        return await self.read(run)

    async def _create(self, ctx: Context, res: Resource, values: dict[str, Any]) -> dict[str, Any]:
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            row = dict(id=changes.new_id(), created_at=changes.utcnow(), version=1,
                       **{k: values.get(k) for k in res.fields})
            try:
                async with conn.begin_nested():
                    await conn.execute(res.table.insert().values(**row))
            except IntegrityError:
                raise res.duplicate() from None
            return row_dict(await self._get_row(conn, res, row["id"]), res.fields)
        return await self.tx(run)

    async def _update(self, ctx: Context, res: Resource, rid: str,
                      values: dict[str, Any]) -> dict[str, Any]:
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            old = await self._get_row(conn, res, rid)
            upd = {k: v for k, v in values.items() if k in res.fields}
            upd.update(updated_at=changes.utcnow(), version=old.version + 1)
            try:
                async with conn.begin_nested():
                    await conn.execute(res.table.update().where(res.table.c.id == rid)
                                       .values(**upd))
            except IntegrityError:
                raise res.duplicate() from None
            return row_dict(await self._get_row(conn, res, rid), res.fields)
        return await self.tx(run)

    async def _delete(self, ctx: Context, res: Resource, rid: str) -> None:
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> None:
            await self._get_row(conn, res, rid)
            await conn.execute(res.table.delete().where(res.table.c.id == rid))
        await self.tx(run)

    # --- TLDs ---------------------------------------------------------------------------------
    def _check_tld(self, values: dict[str, Any], create: bool) -> None:
        name = values.get("name")
        if create or "name" in values:
            if not isinstance(name, str):
                raise _problem("name", "'name' is a required property")
            problems = tld_name_problems(name)
            if problems:
                raise _problem("name", problems[0])
        _check_description(values)

    async def list_tlds(self, ctx: Context, params: ListParams) -> Page:
        return await self._list(ctx, TLDS, params)

    async def get_tld(self, ctx: Context, rid: str) -> dict[str, Any]:
        return await self._get(ctx, TLDS, rid)

    async def create_tld(self, ctx: Context, values: dict[str, Any]) -> dict[str, Any]:
        self._check_tld(values, True)
        return await self._create(ctx, TLDS, values)

    async def update_tld(self, ctx: Context, rid: str, values: dict[str, Any]) -> dict[str, Any]:
        self._check_tld(values, False)
        return await self._update(ctx, TLDS, rid, values)

    async def delete_tld(self, ctx: Context, rid: str) -> None:
        await self._delete(ctx, TLDS, rid)

    # --- blacklists ---------------------------------------------------------------------------
    def _check_blacklist(self, values: dict[str, Any], create: bool) -> None:
        if create or "pattern" in values:
            pattern = values.get("pattern")
            if not isinstance(pattern, str) or not pattern or len(pattern) > 255:
                raise _problem("pattern", "pattern must be a non-empty string of at most 255 "
                               "characters")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise _problem("pattern", f"pattern is not a valid regular expression: {exc}"
                               ) from None
        _check_description(values)

    async def list_blacklists(self, ctx: Context, params: ListParams) -> Page:
        return await self._list(ctx, BLACKLISTS, params)

    async def get_blacklist(self, ctx: Context, rid: str) -> dict[str, Any]:
        return await self._get(ctx, BLACKLISTS, rid)

    async def create_blacklist(self, ctx: Context, values: dict[str, Any]) -> dict[str, Any]:
        self._check_blacklist(values, True)
        return await self._create(ctx, BLACKLISTS, values)

    async def update_blacklist(self, ctx: Context, rid: str,
                               values: dict[str, Any]) -> dict[str, Any]:
        self._check_blacklist(values, False)
        return await self._update(ctx, BLACKLISTS, rid, values)

    async def delete_blacklist(self, ctx: Context, rid: str) -> None:
        await self._delete(ctx, BLACKLISTS, rid)

    # --- TSIG keys ----------------------------------------------------------------------------
    async def _check_tsigkey(self, conn: AsyncConnection, values: dict[str, Any],
                             old: Any = None) -> None:
        if old is not None and old.scope == CATALOG_SCOPE:
            raise _catalog_key_problem()
        merged = {k: values.get(k, getattr(old, k, None)) for k in TSIGKEYS.fields}
        name, alg, secret = merged["name"], merged["algorithm"], merged["secret"]
        if not isinstance(name, str) or not name or len(name) > 160:
            raise _problem("name", "name must be a non-empty string of at most 160 characters")
        if not fqdn_problems(name if name.endswith(".") else name + ".") == []:
            raise _problem("name", "name must be a valid DNS name")
        if alg not in TSIG_ALGORITHMS:
            raise _problem("algorithm", f"algorithm must be one of {list(TSIG_ALGORITHMS)}")
        if not isinstance(secret, str) or not secret or len(secret) > 160:
            raise _problem("secret", "secret must be a non-empty string of at most 160 "
                           "characters")
        try:
            base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise _problem("secret", "secret must be base64") from None
        if merged["scope"] not in ("POOL", "ZONE"):
            raise _problem("scope", "scope must be POOL or ZONE")
        rid = merged["resource_id"]
        table = t.pools if merged["scope"] == "POOL" else t.zones
        found = None
        if isinstance(rid, str):
            found = (await conn.execute(sa.select(table.c.id).where(table.c.id == rid))).first()
        if found is None:
            raise e.InvalidTsigKey(f"resource_id does not name an existing "
                                   f"{merged['scope'].lower()}")

    async def list_tsigkeys(self, ctx: Context, params: ListParams) -> Page:
        return await self._list(ctx, TSIGKEYS, params)

    async def get_tsigkey(self, ctx: Context, rid: str) -> dict[str, Any]:
        return await self._get(ctx, TSIGKEYS, rid)

    async def create_tsigkey(self, ctx: Context, values: dict[str, Any]) -> dict[str, Any]:
        ctx.require_admin()
        await self.read(lambda conn: self._check_tsigkey(conn, values))
        return await self._create(ctx, TSIGKEYS, values)

    async def update_tsigkey(self, ctx: Context, rid: str,
                             values: dict[str, Any]) -> dict[str, Any]:
        ctx.require_admin()

        async def check(conn: AsyncConnection) -> None:
            await self._check_tsigkey(conn, values, await self._get_row(conn, TSIGKEYS, rid))
        await self.read(check)
        return await self._update(ctx, TSIGKEYS, rid, values)

    async def delete_tsigkey(self, ctx: Context, rid: str) -> None:
        ctx.require_admin()
        row = await self.read(lambda conn: self._get_row(conn, TSIGKEYS, rid))
        if row.scope == CATALOG_SCOPE:
            raise _catalog_key_problem()
        await self._delete(ctx, TSIGKEYS, rid)

    # --- quotas -------------------------------------------------------------------------------
    def _quota_project(self, ctx: Context, project_id: str | None) -> str:
        own = ctx.project
        if project_id is None:
            return ctx.require_project()
        if project_id != own and not (ctx.is_admin and (ctx.all_projects or own is None)):
            if not ctx.is_admin:
                raise e.Forbidden()
            if not ctx.all_projects:
                raise e.Forbidden("Reading another project's quotas needs all-projects")
        return project_id

    async def get_quotas(self, ctx: Context, project_id: str | None = None) -> dict[str, int]:
        project = self._quota_project(ctx, project_id)

        async def run(conn: AsyncConnection) -> dict[str, int]:
            return {r: await self.quota(conn, project, r) for r in QUOTA_RESOURCES}
        return await self.read(run)

    async def set_quotas(self, ctx: Context, project_id: str,
                         values: dict[str, Any]) -> dict[str, int]:
        ctx.require_admin()
        errs = []
        for key, value in values.items():
            if key not in QUOTA_RESOURCES:
                errs.append(e.error_entry([key], f"{key} is not a valid quota", "additional"))
            elif isinstance(value, bool) or not isinstance(value, int) or not (
                    -1 <= value <= QUOTA_MAX):
                errs.append(e.error_entry([key], f"{value!r} is not an integer between -1 and "
                                          f"{QUOTA_MAX}", "type"))
        if errs:
            raise e.InvalidObject(errs[0]["message"], errors=errs)

        async def run(conn: AsyncConnection) -> None:
            now = changes.utcnow()
            for key, value in values.items():
                upd = await conn.execute(t.quotas.update().where(
                    t.quotas.c.project_id == project_id, t.quotas.c.resource == key
                ).values(hard_limit=value, updated_at=now, version=t.quotas.c.version + 1))
                if upd.rowcount == 0:
                    await conn.execute(t.quotas.insert().values(
                        id=changes.new_id(), project_id=project_id, resource=key,
                        hard_limit=value, version=1, created_at=now))
        await self.tx(run)
        return await self.get_quotas(ctx.as_project(project_id) if not ctx.all_projects else ctx,
                                     project_id)

    async def reset_quotas(self, ctx: Context, project_id: str) -> None:
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> None:
            await conn.execute(t.quotas.delete().where(t.quotas.c.project_id == project_id))
        await self.tx(run)

    # --- pools --------------------------------------------------------------------------------
    async def _pool_dict(self, conn: AsyncConnection, row: Any) -> dict[str, Any]:
        ns = (await conn.execute(sa.select(t.pool_ns_records).where(
            t.pool_ns_records.c.pool_id == row.id).order_by(t.pool_ns_records.c.created_at))).all()
        out = row_dict(row, ("name", "description", "project_id", "attributes"))
        out["ns_records"] = [{"hostname": n.hostname, "priority": n.priority} for n in ns]
        return out

    async def list_pools(self, ctx: Context, params: ListParams) -> Page:
        return await self._list(ctx, POOLS, params, to_dict=self._pool_dict)

    async def get_pool(self, ctx: Context, rid: str) -> dict[str, Any]:
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            return await self._pool_dict(conn, await self._get_row(conn, POOLS, rid))
        return await self.read(run)

    def _check_pool(self, values: dict[str, Any], create: bool) -> list[dict[str, Any]] | None:
        if create or "name" in values:
            name = values.get("name")
            if not isinstance(name, str) or not name or len(name) > 50:
                raise _problem("name", "name must be a non-empty string of at most 50 characters")
        _check_description(values)
        attrs = values.get("attributes")
        if attrs is not None and not isinstance(attrs, dict):
            raise _problem("attributes", "attributes must be an object")
        if "ns_records" not in values:
            return None
        ns = values["ns_records"]
        if not isinstance(ns, list) or not ns:
            raise e.LastServerDeleteNotAllowed() if isinstance(ns, list) else _problem(
                "ns_records", "ns_records must be a list")
        for i, item in enumerate(ns):
            ok = (isinstance(item, dict) and isinstance(item.get("hostname"), str)
                  and not fqdn_problems(item["hostname"])
                  and isinstance(item.get("priority"), int)
                  and not isinstance(item.get("priority"), bool)
                  and 1 <= item["priority"] <= 10000)
            if not ok:
                raise e.InvalidObject.single(["ns_records", i], "each ns_record needs a "
                                             "hostname (FQDN) and a priority from 1 to 10000")
        return ns

    async def create_pool(self, ctx: Context, values: dict[str, Any]) -> dict[str, Any]:
        ctx.require_admin()
        ns = self._check_pool(values, True) or []

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            pid = values.get("id") or changes.new_id()
            now = changes.utcnow()
            try:
                async with conn.begin_nested():
                    await conn.execute(t.pools.insert().values(
                        id=pid, name=values["name"], description=values.get("description"),
                        project_id=values.get("project_id") or ctx.project,
                        attributes=values.get("attributes") or {}, version=1,
                        catalog_serial=1, created_at=now))
            except IntegrityError:
                raise e.DuplicatePool() from None
            await replace_ns_records(conn, pid, ns)
            return await self._pool_dict(conn, await self._get_row(conn, POOLS, pid))
        return await self.tx(run)

    async def update_pool(self, ctx: Context, rid: str, values: dict[str, Any]) -> dict[str, Any]:
        ctx.require_admin()
        ns = self._check_pool(values, False)

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            old = await self._get_row(conn, POOLS, rid)
            upd = {k: values[k] for k in ("name", "description", "attributes") if k in values}
            upd.update(updated_at=changes.utcnow(), version=old.version + 1)
            try:
                async with conn.begin_nested():
                    await conn.execute(t.pools.update().where(t.pools.c.id == rid).values(**upd))
            except IntegrityError:
                raise e.DuplicatePool() from None
            if ns is not None:
                await replace_ns_records(conn, rid, ns)
                await rewrite_apex_ns(conn, rid, self.settings.journal_retention)
            return await self._pool_dict(conn, await self._get_row(conn, POOLS, rid))
        return await self.tx(run)

    async def delete_pool(self, ctx: Context, rid: str) -> None:
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> None:
            await self._get_row(conn, POOLS, rid)
            used = (await conn.execute(sa.select(t.zones.c.id).where(
                t.zones.c.pool_id == rid, t.zones.c.deleted_at.is_(None)).limit(1))).first()
            if used is not None:
                raise e.InvalidOperation("Pool still has zones")
            await conn.execute(t.pools.delete().where(t.pools.c.id == rid))
        await self.tx(run)

    # --- service statuses ---------------------------------------------------------------------
    async def _status_dict(self, conn: AsyncConnection, row: Any) -> dict[str, Any]:
        out = row_dict(row, ("hostname", "service_name", "status", "stats", "capabilities"))
        out["heartbeated_at"] = iso(row.heartbeated_at)
        return out

    async def list_service_statuses(self, ctx: Context, params: ListParams) -> Page:
        return await self._list(ctx, SERVICE_STATUSES, params, to_dict=self._status_dict)

    async def get_service_status(self, ctx: Context, rid: str) -> dict[str, Any]:
        ctx.require_admin()

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            return await self._status_dict(conn, await self._get_row(conn, SERVICE_STATUSES, rid))
        return await self.read(run)

    async def heartbeat(self, service_name: str, hostname: str, status: str = "UP",
                        stats: dict[str, Any] | None = None) -> None:
        """Record that a dnsaas process is alive (called every few seconds): one upsert, so
        processes on one host (``dnsaas api --workers N``) never race on the first insert."""
        async def run(conn: AsyncConnection) -> None:
            now = changes.utcnow()
            ins_mod = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = ins_mod.insert(t.service_statuses).values(
                id=changes.new_id(), service_name=service_name, hostname=hostname,
                status=status, stats=stats or {}, capabilities={}, heartbeated_at=now,
                created_at=now)
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[t.service_statuses.c.service_name, t.service_statuses.c.hostname],
                set_={"status": stmt.excluded.status, "stats": stmt.excluded.stats,
                      "heartbeated_at": now, "updated_at": now}))
        await self.tx(run)


async def replace_ns_records(conn: AsyncConnection, pool_id: str,
                             ns: list[dict[str, Any]]) -> None:
    """Make the pool's ns_records exactly ``ns`` (existing hostnames keep their rows)."""
    existing = {r.hostname: r for r in (await conn.execute(sa.select(t.pool_ns_records).where(
        t.pool_ns_records.c.pool_id == pool_id))).all()}
    wanted = {n["hostname"].lower(): n for n in ns}
    gone = [r.id for h, r in existing.items() if h not in wanted]
    if gone:
        await conn.execute(t.pool_ns_records.delete().where(t.pool_ns_records.c.id.in_(gone)))
    now = changes.utcnow()
    for host, n in wanted.items():
        if host in existing:
            if existing[host].priority != n["priority"]:
                await conn.execute(t.pool_ns_records.update().where(
                    t.pool_ns_records.c.id == existing[host].id).values(
                    priority=n["priority"], updated_at=now))
        else:
            await conn.execute(t.pool_ns_records.insert().values(
                id=changes.new_id(), pool_id=pool_id, hostname=host, priority=n["priority"],
                created_at=now))


async def rewrite_apex_ns(conn: AsyncConnection, pool_id: str, retention: int,
                          zone_ids: list[str] | None = None) -> int:
    """Rewrite the managed apex NS recordset of the pool's zones; returns zones changed."""
    from dnsaas import wire

    ns = [r.hostname for r in (await conn.execute(sa.select(t.pool_ns_records.c.hostname).where(
        t.pool_ns_records.c.pool_id == pool_id).order_by(t.pool_ns_records.c.created_at))).all()]
    q = sa.select(t.zones.c.id).where(t.zones.c.pool_id == pool_id,
                                      t.zones.c.deleted_at.is_(None), t.zones.c.type != "CATALOG")
    if zone_ids is not None:
        q = q.where(t.zones.c.id.in_(zone_ids))
    changed = 0
    for zone_id in (await conn.execute(q)).scalars().all():
        zone = await changes.lock_zone(conn, zone_id)
        if zone is None:
            continue
        rs = (await conn.execute(sa.select(t.recordsets).where(
            t.recordsets.c.zone_id == zone.id, t.recordsets.c.name == zone.name,
            t.recordsets.c.type == "NS"))).first()
        if rs is None:
            continue
        old = (await conn.execute(sa.select(t.records.c.data, t.records.c.rdata).where(
            t.records.c.recordset_id == rs.id))).all()
        if sorted(r.data for r in old) == sorted(ns):
            continue
        serial = changes.next_serial(zone.serial)
        owner = wire.name_wire(zone.name)
        ttl = changes.effective_ttl(rs.ttl, zone.ttl)
        await conn.execute(t.records.delete().where(t.records.c.recordset_id == rs.id))
        now = changes.utcnow()
        head = wire.axfr_head(zone.name, zone.name, "NS")
        await conn.execute(t.records.insert(), [dict(
            id=changes.new_id(), recordset_id=rs.id, zone_id=zone.id, data=h,
            rdata=wire.name_wire(h), axfr_rr=wire.axfr_rr(head, ttl, wire.name_wire(h)),
            managed=True, status="PENDING", action="UPDATE", serial=serial, version=1,
            created_at=now) for h in ns])
        await changes.commit_change(
            conn, zone, [wire.rr(owner, 2, ttl, r.rdata) for r in old],
            [wire.rr(owner, 2, ttl, wire.name_wire(h)) for h in ns], serial=serial,
            retention=retention)
        changed += 1
    return changed
