"""Pools in Designate's ``pools.yaml`` shape (designate-api.md §2.5): load, validate, apply, read.

``load_pools_yaml(text)`` validates everything (unknown keys, bad addresses, unknown backend
types, per-driver options) and raises :class:`PoolFileError` listing every problem with the line
it is on; nothing is applied unless the whole file is valid. ``apply_pools(conn, pools, ...)``
writes them in the caller's transaction and returns the list of changes (the ``--dry-run``
diff). ``read_pool(conn, pool_id)`` is how workers see a pool at job time; the ``version``
column grows on every change, so readers cache by (pool id, version).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.names import fqdn_problems
from dnsaas.storage import tables as t


class PoolFileError(ValueError):
    """A pools.yaml that cannot be applied; ``problems`` are "line N: message" strings."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid pools file:\n  " + "\n  ".join(problems))


# --- the file's schema ----------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


class HostPort(_Strict):
    host: str
    port: int = Field(53, ge=1, le=65535)

    _host = field_validator("host")(_check_host)


class NameServer(HostPort):
    tsigkey_id: str | None = None


class NSRecord(_Strict):
    hostname: str
    priority: int = Field(ge=1, le=10000)

    @field_validator("hostname")
    @classmethod
    def _fqdn(cls, value: str) -> str:
        problems = fqdn_problems(value)
        if problems:
            raise ValueError(problems[0])
        return value.lower()


class TargetSpec(_Strict):
    type: str
    description: str | None = None
    masters: list[HostPort] = []
    options: dict[str, Any] = {}
    tsigkey_id: str | None = None


class CatalogZone(_Strict):
    """The pool's RFC 9432 catalog zone; with ``catalog_zone_tsig_key`` (a base64 secret) and
    its algorithm, transfers of the catalog need TSIG with the key named like the zone."""

    catalog_zone_fqdn: str
    catalog_zone_refresh: int | None = Field(None, ge=0)
    catalog_zone_tsig_key: str | None = Field(None, min_length=1, max_length=160)
    catalog_zone_tsig_algorithm: str | None = None

    @field_validator("catalog_zone_fqdn")
    @classmethod
    def _fqdn(cls, value: str) -> str:
        problems = fqdn_problems(value)
        if problems:
            raise ValueError(problems[0])
        return value.lower()

    @field_validator("catalog_zone_tsig_key")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("catalog_zone_tsig_key must be a base64 secret") from None
        return value

    @model_validator(mode="after")
    def _key_and_algorithm(self) -> CatalogZone:
        from dnsaas.service.admin import TSIG_ALGORITHMS

        key, alg = self.catalog_zone_tsig_key, self.catalog_zone_tsig_algorithm
        if key is not None and alg is None:
            raise ValueError("catalog_zone_tsig_algorithm is required with catalog_zone_tsig_key")
        if alg is not None and key is None:
            raise ValueError("catalog_zone_tsig_algorithm given without catalog_zone_tsig_key")
        if alg is not None and alg not in TSIG_ALGORITHMS:
            raise ValueError(f"catalog_zone_tsig_algorithm must be one of {list(TSIG_ALGORITHMS)}")
        return self


class PoolSpec(_Strict):
    name: str = Field(min_length=1, max_length=50)
    id: str | None = None
    description: str | None = Field(None, max_length=160)
    attributes: dict[str, Any] = {}
    ns_records: list[NSRecord] = Field(min_length=1)
    nameservers: list[NameServer] = []
    targets: list[TargetSpec] = []
    also_notifies: list[HostPort] = []
    catalog_zone: CatalogZone | None = None


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at pydantic location ``loc``."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if node is None:
            break
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == part:
                    # An unknown key is reported on the key's own line.
                    nxt = v if v.start_mark.line == k.start_mark.line or part != loc[-1] else k
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def load_pools_yaml(text: str) -> list[PoolSpec]:
    """Parse and validate a pools.yaml; every problem is reported with its line."""
    from backends.base import backend_class

    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise PoolFileError([f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, list):
        raise PoolFileError(["line 1: the file must be a list of pools"])
    problems: list[str] = []
    pools: list[PoolSpec] = []
    for i, item in enumerate(data):
        try:
            pool = PoolSpec.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                loc = (i, *err["loc"])
                problems.append(f"line {_line_of(root, loc)}: {'.'.join(map(str, err['loc']))}: "
                                f"{err['msg']}")
            continue
        for j, target in enumerate(pool.targets):
            try:
                cls = backend_class(target.type)
            except KeyError:
                problems.append(f"line {_line_of(root, (i, 'targets', j, 'type'))}: "
                                f"targets.{j}.type: unknown backend type {target.type!r}")
                continue
            try:
                cls.Options.model_validate(target.options)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = (i, "targets", j, "options", *err["loc"])
                    problems.append(f"line {_line_of(root, loc)}: targets.{j}.options."
                                    f"{'.'.join(map(str, err['loc']))}: {err['msg']}")
            if cls.name == "catalog" and pool.catalog_zone is None:
                problems.append(f"line {_line_of(root, (i, 'targets', j))}: a catalog target "
                                "needs the pool's catalog_zone")
        pools.append(pool)
    names = [p.name for p in pools]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"line {_line_of(root, (names.index(name),))}: pool {name!r} is listed "
                        "more than once")
    if problems:
        raise PoolFileError(problems)
    return pools


# --- applying to the database ---------------------------------------------------------------
async def _tsig_ids(conn: AsyncConnection) -> set[str]:
    return set((await conn.execute(sa.select(t.tsigkeys.c.id))).scalars().all())


async def current_pools(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every pool as a pools.yaml item (for ``dnsaas pool show`` and diffs)."""
    out = []
    for row in (await conn.execute(sa.select(t.pools).order_by(t.pools.c.created_at))).all():
        out.append(await _pool_as_spec(conn, row))
    return out


async def _pool_as_spec(conn: AsyncConnection, row: Any) -> dict[str, Any]:
    pid = row.id

    async def rows(table: sa.Table, order: Any = None) -> list[Any]:
        q = sa.select(table).where(table.c.pool_id == pid)
        q = q.order_by(order if order is not None else table.c.created_at, table.c.id)
        return list((await conn.execute(q)).all())

    spec: dict[str, Any] = {
        "id": pid, "name": row.name, "description": row.description,
        "attributes": dict(row.attributes or {}),
        "ns_records": [{"hostname": r.hostname, "priority": r.priority}
                       for r in await rows(t.pool_ns_records)],
        "nameservers": [_drop_none({"host": r.host, "port": r.port, "tsigkey_id": r.tsigkey_id})
                        for r in await rows(t.pool_nameservers)],
        "targets": [_drop_none({"type": r.type, "description": r.description,
                                "masters": list(r.masters or []), "options": dict(r.options or {}),
                                "tsigkey_id": r.tsigkey_id})
                    for r in await rows(t.pool_targets)],
        "also_notifies": [{"host": r.host, "port": r.port}
                          for r in await rows(t.pool_also_notifies)],
    }
    if row.catalog_zone_fqdn:
        spec["catalog_zone"] = _drop_none({
            "catalog_zone_fqdn": row.catalog_zone_fqdn,
            "catalog_zone_refresh": row.catalog_zone_refresh,
            "catalog_zone_tsig_key": row.catalog_zone_tsig_key,
            "catalog_zone_tsig_algorithm": row.catalog_zone_tsig_algorithm})
    return spec


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _wanted(pool: PoolSpec, pool_id: str) -> dict[str, Any]:
    dumped = pool.model_dump(exclude_none=True)
    return {
        "id": pool_id, "name": pool.name, "description": pool.description,
        "attributes": pool.attributes,
        "ns_records": dumped["ns_records"],
        "nameservers": dumped["nameservers"],
        "targets": [_drop_none({"type": tg["type"], "description": tg.get("description"),
                                "masters": tg.get("masters", []), "options": tg.get("options", {}),
                                "tsigkey_id": tg.get("tsigkey_id")}) for tg in dumped["targets"]],
        "also_notifies": dumped["also_notifies"],
        **({"catalog_zone": dumped["catalog_zone"]} if pool.catalog_zone else {}),
    }


def _norm(spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    out.setdefault("catalog_zone", None)
    out["ns_records"] = sorted(out["ns_records"], key=lambda r: r["hostname"])
    return out


@dataclass
class PoolChange:
    """One line of the diff: ``+``, ``-`` or ``~`` with what changed."""

    op: str
    pool: str
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        what = {"+": "create", "-": "delete", "~": "update"}[self.op]
        extra = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.op} {what} pool {self.pool}{extra}"


async def apply_pools(conn: AsyncConnection, pools: list[PoolSpec], *, delete: bool = False,
                      retention: int = 1000) -> list[PoolChange]:
    """Make the database match ``pools`` in the caller's transaction; returns the changes.

    Pools are matched by ``id`` when given, else by name. With ``delete``, pools missing from
    the file are removed (refused while they still hold zones). Zones of a pool whose targets,
    nameservers or catalog changed are re-enqueued so they reach the new servers.
    """
    from dnsaas.service import changes
    from dnsaas.service.admin import replace_ns_records, rewrite_apex_ns

    existing = {r.id: r for r in (await conn.execute(sa.select(t.pools))).all()}
    by_name = {r.name: r for r in existing.values()}
    tsig = await _tsig_ids(conn)
    problems: list[str] = []
    plan: list[tuple[PoolSpec, Any]] = []
    for pool in pools:
        row = existing.get(pool.id) if pool.id else by_name.get(pool.name)
        if pool.id and row is None and pool.name in by_name:
            problems.append(f"pool {pool.name!r} exists with id {by_name[pool.name].id}, "
                            f"not {pool.id}")
        for ref in [n.tsigkey_id for n in pool.nameservers] + [tg.tsigkey_id for tg in pool.targets]:
            if ref is not None and ref not in tsig:
                problems.append(f"pool {pool.name!r}: tsigkey_id {ref} does not exist")
        plan.append((pool, row))
    if problems:
        raise PoolFileError(problems)
    out: list[PoolChange] = []
    now = changes.utcnow()
    kept: set[str] = set()
    for pool, row in plan:
        pid = row.id if row is not None else (pool.id or changes.new_id())
        kept.add(pid)
        want = _wanted(pool, pid)
        if row is None:
            await conn.execute(t.pools.insert().values(
                id=pid, name=pool.name, description=pool.description, attributes=pool.attributes,
                catalog_serial=1, version=1, created_at=now, **_catalog_cols(pool)))
            await _write_children(conn, pid, want, now)
            await replace_ns_records(conn, pid, want["ns_records"])
            await _sync_catalog_key(conn, pid, pool, now)
            out.append(PoolChange("+", pool.name))
            continue
        have = _norm(await _pool_as_spec(conn, row))
        diff = [k for k in ("name", "description", "attributes", "ns_records", "nameservers",
                            "targets", "also_notifies", "catalog_zone")
                if have.get(k) != _norm(want).get(k)]
        if not diff:
            continue
        await conn.execute(t.pools.update().where(t.pools.c.id == pid).values(
            name=pool.name, description=pool.description, attributes=pool.attributes,
            version=row.version + 1, updated_at=now, **_catalog_cols(pool),
            **({"catalog_serial": changes.next_serial(int(row.catalog_serial))}
               if "catalog_zone" in diff else {})))
        if {"nameservers", "targets", "also_notifies"} & set(diff):
            await _write_children(conn, pid, want, now)
        if "ns_records" in diff:
            await replace_ns_records(conn, pid, want["ns_records"])
            await rewrite_apex_ns(conn, pid, retention)
        if "catalog_zone" in diff:
            await _sync_catalog_key(conn, pid, pool, now)
        if {"nameservers", "targets", "catalog_zone"} & set(diff):
            await _requeue_zones(conn, pid)
        out.append(PoolChange("~", pool.name, diff))
    if delete:
        for pid, row in existing.items():
            if pid in kept:
                continue
            used = (await conn.execute(sa.select(sa.func.count()).select_from(t.zones).where(
                t.zones.c.pool_id == pid, t.zones.c.deleted_at.is_(None)))).scalar_one()
            if used:
                raise PoolFileError([f"pool {row.name!r} is not in the file but still has {used} "
                                     "zone(s); delete or move them first"])
            zone_ids = sa.select(t.zones.c.id).where(t.zones.c.pool_id == pid)
            for table in (t.records, t.recordsets, t.zone_changes, t.shared_zones, t.jobs):
                await conn.execute(table.delete().where(table.c.zone_id.in_(zone_ids)))
            await conn.execute(t.zones.delete().where(t.zones.c.pool_id == pid))
            await conn.execute(t.tsigkeys.delete().where(t.tsigkeys.c.scope == CATALOG_SCOPE,
                                                         t.tsigkeys.c.resource_id == pid))
            await conn.execute(t.pools.delete().where(t.pools.c.id == pid))
            out.append(PoolChange("-", row.name))
    return out


# The scope of the TSIG key that guards a pool's catalog zone (resource_id = the pool's id).
CATALOG_SCOPE = "CATALOG"


async def _sync_catalog_key(conn: AsyncConnection, pid: str, pool: PoolSpec, now: Any) -> None:
    """Keep the pool's catalog TSIG key (named like the catalog zone) as the file says."""
    from dnsaas.service.changes import new_id

    k = t.tsigkeys
    c = pool.catalog_zone
    await conn.execute(k.delete().where(k.c.scope == CATALOG_SCOPE, k.c.resource_id == pid))
    if c is None or c.catalog_zone_tsig_key is None:
        return
    taken = (await conn.execute(sa.select(k.c.id).where(k.c.name == c.catalog_zone_fqdn))).first()
    if taken is not None:
        raise PoolFileError([f"pool {pool.name!r}: a TSIG key named {c.catalog_zone_fqdn} "
                             "already exists; the catalog zone's key takes the zone's name"])
    await conn.execute(k.insert().values(
        id=new_id(), name=c.catalog_zone_fqdn, algorithm=c.catalog_zone_tsig_algorithm,
        secret=c.catalog_zone_tsig_key, scope=CATALOG_SCOPE, resource_id=pid, version=1,
        created_at=now))


def _catalog_cols(pool: PoolSpec) -> dict[str, Any]:
    c = pool.catalog_zone
    return {
        "catalog_zone_fqdn": c.catalog_zone_fqdn if c else None,
        "catalog_zone_refresh": c.catalog_zone_refresh if c else None,
        "catalog_zone_tsig_key": c.catalog_zone_tsig_key if c else None,
        "catalog_zone_tsig_algorithm": c.catalog_zone_tsig_algorithm if c else None,
    }


async def _write_children(conn: AsyncConnection, pid: str, want: dict[str, Any], now: Any) -> None:
    from dnsaas.service.changes import new_id

    for table in (t.pool_nameservers, t.pool_targets, t.pool_also_notifies):
        await conn.execute(table.delete().where(table.c.pool_id == pid))
    # created_at strictly increasing keeps the file's order when read back
    step = [0]

    def ts() -> Any:
        from datetime import timedelta
        step[0] += 1
        return now + timedelta(microseconds=step[0])
    for ns in want["nameservers"]:
        await conn.execute(t.pool_nameservers.insert().values(
            id=new_id(), pool_id=pid, host=ns["host"], port=ns["port"],
            tsigkey_id=ns.get("tsigkey_id"), created_at=ts()))
    for tg in want["targets"]:
        await conn.execute(t.pool_targets.insert().values(
            id=new_id(), pool_id=pid, type=tg["type"], description=tg.get("description"),
            masters=tg.get("masters", []), options=tg.get("options", {}),
            tsigkey_id=tg.get("tsigkey_id"), created_at=ts()))
    for an in want["also_notifies"]:
        await conn.execute(t.pool_also_notifies.insert().values(
            id=new_id(), pool_id=pid, host=an["host"], port=an["port"], created_at=ts()))


async def _requeue_zones(conn: AsyncConnection, pid: str) -> None:
    from dnsaas.service.changes import upsert_job

    rows = (await conn.execute(sa.select(t.zones.c.id, t.zones.c.serial).where(
        t.zones.c.pool_id == pid, t.zones.c.deleted_at.is_(None)))).all()
    for r in rows:
        await upsert_job(conn, r.id, "propagate", int(r.serial), payload={"repair": True})


# --- reading a pool at job time -------------------------------------------------------------
@dataclass(frozen=True)
class PoolServer:
    host: str
    port: int
    tsigkey_id: str | None = None


@dataclass(frozen=True)
class PoolConfig:
    """A pool as workers use it."""

    id: str
    name: str
    version: int
    threshold: int
    nameservers: tuple[PoolServer, ...]
    also_notifies: tuple[PoolServer, ...]
    targets: tuple[Any, ...]  # backends.base.Target
    catalog_zone: str | None
    tsigkeys: dict[str, tuple[str, str, str]]  # id -> (name, algorithm, secret)


async def pool_version(conn: AsyncConnection, pool_id: str) -> int | None:
    """The pool's version (None when it does not exist): the cache key of :func:`read_pool`."""
    v = (await conn.execute(sa.select(t.pools.c.version).where(t.pools.c.id == pool_id))).first()
    return None if v is None else int(v[0])


async def read_pool(conn: AsyncConnection, pool_id: str) -> PoolConfig | None:
    """The pool with its nameservers, targets, also-notifies and their TSIG keys."""
    from backends.base import Target, TsigKey

    row = (await conn.execute(sa.select(t.pools).where(t.pools.c.id == pool_id))).first()
    if row is None:
        return None

    async def rows(table: sa.Table) -> list[Any]:
        return list((await conn.execute(sa.select(table).where(table.c.pool_id == pool_id)
                                        .order_by(table.c.created_at, table.c.id))).all())
    ns_rows, target_rows = await rows(t.pool_nameservers), await rows(t.pool_targets)
    key_ids = {r.tsigkey_id for r in [*ns_rows, *target_rows] if r.tsigkey_id}
    keys = {k.id: (k.name, k.algorithm, k.secret) for k in (await conn.execute(
        sa.select(t.tsigkeys).where(t.tsigkeys.c.id.in_(key_ids)))).all()} if key_ids else {}
    nameservers = tuple(PoolServer(r.host, int(r.port), r.tsigkey_id) for r in ns_rows)
    also = tuple(PoolServer(r.host, int(r.port)) for r in await rows(t.pool_also_notifies))
    targets = []
    for r in target_rows:
        key = keys.get(r.tsigkey_id) if r.tsigkey_id else None
        targets.append(Target(
            id=r.id, pool_id=pool_id, type=r.type, description=r.description,
            masters=tuple((m["host"], int(m.get("port", 53))) for m in (r.masters or [])),
            options=dict(r.options or {}), tsigkey=TsigKey(*key) if key else None))
    try:
        threshold = int((row.attributes or {}).get("threshold_percentage", 100))
    except (TypeError, ValueError):
        threshold = 100
    return PoolConfig(id=row.id, name=row.name, version=int(row.version),
                      threshold=max(0, min(100, threshold)), nameservers=nameservers,
                      also_notifies=also, targets=tuple(targets),
                      catalog_zone=row.catalog_zone_fqdn, tsigkeys=keys)
