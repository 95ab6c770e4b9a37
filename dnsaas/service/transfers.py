"""Zone ownership transfer (designate-api.md §1.7): the owner creates a transfer request (with
a generated key, optionally for one target project); another project accepts it with the key
and becomes the owner."""

from __future__ import annotations

import hmac
import secrets
import string
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.context import Context
from dnsaas.errors import (
    BadRequest,
    DnsaasError,
    Forbidden,
    InvalidKey,
    InvalidObject,
    InvalidZoneTransferRequest,
    ZoneNotFound,
    ZoneTransferAcceptNotFound,
    ZoneTransferRequestNotFound,
)
from dnsaas.service import changes
from dnsaas.service.base import iso
from dnsaas.service.listing import ListParams, Page, fetch_page, like_or_equal
from dnsaas.service.zones import DESCRIPTION_MAX, ZoneService
from dnsaas.storage import tables as t

TRANSFER_SORT_KEYS = frozenset({"created_at", "id", "updated_at"})
TRANSFER_FILTERS = frozenset({"status"})
KEY_ALPHABET = string.ascii_uppercase + string.digits
KEY_LENGTH = 8

_request_cols = [t.zone_transfer_requests, t.zones.c.name.label("zone_name")]


def new_key() -> str:
    """8 characters from A–Z and 0–9."""
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def request_dict(row: Any, ctx: Context) -> dict[str, Any]:
    """A transfer request as the API shows it to ``ctx``: non-owners see only id, zone_id,
    zone_name, description and status."""
    out = {"id": row.id, "zone_id": row.zone_id, "zone_name": row.zone_name,
           "description": row.description, "status": row.status}
    if row.project_id == ctx.project or (ctx.is_admin and ctx.all_projects):
        out.update(key=row.key, project_id=row.project_id,
                   target_project_id=row.target_project_id, created_at=iso(row.created_at),
                   updated_at=iso(row.updated_at), version=row.version)
    return out


def accept_dict(row: Any) -> dict[str, Any]:
    return {"id": row.id, "zone_transfer_request_id": row.zone_transfer_request_id,
            "zone_id": row.zone_id, "project_id": row.project_id, "key": row.key,
            "status": row.status, "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at), "version": row.version}


def _check_description(values: dict[str, Any]) -> None:
    desc = values.get("description")
    if desc is not None and (not isinstance(desc, str) or len(desc) > DESCRIPTION_MAX):
        raise InvalidObject.single(["description"], "description must be a string of at most "
                                   f"{DESCRIPTION_MAX} characters", "maxLength")


class TransferService(ZoneService):
    """Transfer requests and accepts."""

    def _is_all(self, ctx: Context) -> bool:
        return ctx.is_admin and ctx.all_projects and not ctx.sudo_project_id

    def _request_scope(self, ctx: Context, by_id: bool) -> list[sa.ColumnElement[bool]]:
        """Owner or target; a request without a target is visible by id to anyone (who then
        needs its key to accept it)."""
        if self._is_all(ctx):
            return []
        project = ctx.require_project()
        reqs = t.zone_transfer_requests.c
        visible = [reqs.project_id == project, reqs.target_project_id == project]
        if by_id:
            visible.append(reqs.target_project_id.is_(None))
        return [sa.or_(*visible)]

    async def _request_row(self, conn: AsyncConnection, ctx: Context, request_id: str,
                           scoped: bool = True) -> Any:
        scope = self._request_scope(ctx, by_id=True) if scoped else []
        row = (await conn.execute(
            sa.select(*_request_cols).join(t.zones, t.zones.c.id
                                           == t.zone_transfer_requests.c.zone_id)
            .where(t.zone_transfer_requests.c.id == request_id, *scope))).first()
        if row is None:
            raise ZoneTransferRequestNotFound()
        return row

    async def create_transfer_request(self, ctx: Context, zone_id: str,
                                      values: dict[str, Any]) -> dict[str, Any]:
        """201 ACTIVE with a new key; only the zone owner may ask."""
        ctx.require_writer()
        _check_description(values)
        target = values.get("target_project_id")
        if target is not None and (not isinstance(target, str) or not target or len(target) > 255):
            raise InvalidObject.single(["target_project_id"], "target_project_id must be a "
                                       "project id")

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            zone = await self.zone_row(conn, ctx, zone_id, lock=True, owner=True)
            if zone.action == "DELETE":
                raise BadRequest("Can not transfer a deleting zone")
            if target == zone.project_id:
                raise InvalidZoneTransferRequest("The target project already owns the zone")
            row = dict(id=changes.new_id(), zone_id=zone.id, project_id=zone.project_id,
                       target_project_id=target, key=new_key(),
                       description=values.get("description"), status="ACTIVE", version=1,
                       created_at=changes.utcnow(), updated_at=None)
            await conn.execute(t.zone_transfer_requests.insert().values(**row))
            return request_dict(_Obj(dict(row, zone_name=zone.name)), ctx)
        return await self.tx(run)

    async def get_transfer_request(self, ctx: Context, request_id: str) -> dict[str, Any]:
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            return request_dict(await self._request_row(conn, ctx, request_id), ctx)
        return await self.read(run)

    async def list_transfer_requests(self, ctx: Context, params: ListParams) -> Page:
        where = self._request_scope(ctx, by_id=False)
        where += [like_or_equal(t.zone_transfer_requests.c[k], v)
                  for k, v in params.filters.items()]
        select = sa.select(*_request_cols).join(
            t.zones, t.zones.c.id == t.zone_transfer_requests.c.zone_id)

        async def run(conn: AsyncConnection) -> Page:
            rows, total = await fetch_page(conn, select, t.zone_transfer_requests, where, params)
            return Page([request_dict(r, ctx) for r in rows], total, params.limit)
        return await self.read(run)

    async def update_transfer_request(self, ctx: Context, request_id: str,
                                      values: dict[str, Any]) -> dict[str, Any]:
        """PATCH: description; target_project_id only while unset; zone_id never."""
        ctx.require_writer()
        _check_description(values)

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            row = await self._request_row(conn, ctx, request_id)
            if row.project_id != ctx.project and not self._is_all(ctx):
                raise Forbidden("Only the zone owner may change a transfer request")
            if "zone_id" in values and values["zone_id"] != row.zone_id:
                raise BadRequest("zone_id is immutable")
            if "key" in values and values["key"] != row.key:
                raise BadRequest("key is read only")
            update: dict[str, Any] = {}
            if "description" in values:
                update["description"] = values["description"]
            if "target_project_id" in values and values["target_project_id"] != \
                    row.target_project_id:
                if row.target_project_id is not None:
                    raise BadRequest("target_project_id is immutable")
                update["target_project_id"] = values["target_project_id"]
            if row.status != "ACTIVE" and update:
                raise BadRequest("The transfer request has been used")
            if update:
                await conn.execute(t.zone_transfer_requests.update().where(
                    t.zone_transfer_requests.c.id == row.id).values(
                    **update, version=row.version + 1, updated_at=changes.utcnow()))
            return request_dict(await self._request_row(conn, ctx, request_id), ctx)
        return await self.tx(run)

    async def delete_transfer_request(self, ctx: Context, request_id: str) -> None:
        ctx.require_writer()

        async def run(conn: AsyncConnection) -> None:
            row = await self._request_row(conn, ctx, request_id)
            if row.project_id != ctx.project and not self._is_all(ctx):
                raise Forbidden("Only the zone owner may delete a transfer request")
            await conn.execute(t.zone_transfer_requests.delete().where(
                t.zone_transfer_requests.c.id == row.id))
        await self.tx(run)

    # --- accepts ----------------------------------------------------------------------------
    async def accept_transfer(self, ctx: Context, values: dict[str, Any]) -> dict[str, Any]:
        """Take over the zone: 201 COMPLETE. Wrong key 403 (nothing changes); a used request
        400; another target 403; the accepting project's zone quota 413 (the accept is then
        stored in ERROR)."""
        ctx.require_writer()
        project = ctx.require_project()
        key, request_id = values.get("key"), values.get("zone_transfer_request_id")
        if not isinstance(key, str) or not isinstance(request_id, str):
            missing = "key" if not isinstance(key, str) else "zone_transfer_request_id"
            raise InvalidObject.single([missing], f"'{missing}' is a required property",
                                       "required")

        async def run(conn: AsyncConnection) -> dict[str, Any]:
            req = await self._request_row(conn, ctx, request_id, scoped=False)
            if req.target_project_id is not None and req.target_project_id != project:
                raise Forbidden("This transfer request is for another project")
            if not hmac.compare_digest(req.key.encode(), key.encode()):
                raise InvalidKey("Invalid key")
            if req.status != "ACTIVE":
                raise BadRequest("Zone Transfer Request has been used")
            if req.project_id == project:
                raise BadRequest("The zone already belongs to this project")
            zone = await changes.lock_zone(conn, req.zone_id)
            if zone is None:
                raise ZoneNotFound()
            if zone.action == "DELETE":
                raise BadRequest("Can not transfer a deleting zone")
            now = changes.utcnow()
            accept = dict(id=changes.new_id(), zone_transfer_request_id=req.id,
                          zone_id=zone.id, project_id=project, key=key, status="COMPLETE",
                          version=1, created_at=now, updated_at=None)
            old = zone.project_id
            limits = await self.quotas_of(conn, project)
            try:
                await self.check_zone_quota(conn, project, limits, adding=1)
                await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(
                    project_id=project, version=zone.version + 1, updated_at=now))
                # Again under the counter row lock the update's trigger took: concurrent
                # accepts into one project cannot overshoot its quota.
                await self.check_zone_quota(conn, project, limits, adding=0)
            except DnsaasError as exc:
                exc.failed_accept = accept  # type: ignore[attr-defined]
                raise
            await conn.execute(t.recordsets.update().where(
                t.recordsets.c.zone_id == zone.id, t.recordsets.c.project_id == old)
                .values(project_id=project))
            await conn.execute(t.shared_zones.delete().where(t.shared_zones.c.zone_id == zone.id))
            await conn.execute(t.zone_transfer_requests.update().where(
                t.zone_transfer_requests.c.id == req.id).values(
                status="COMPLETE", version=req.version + 1, updated_at=now))
            await conn.execute(t.zone_transfer_accepts.insert().values(**accept))
            return accept_dict(_Obj(accept))
        try:
            return await self.tx(run)
        except DnsaasError as exc:
            failed = getattr(exc, "failed_accept", None)
            if failed is not None:
                failed["status"] = "ERROR"

                async def store(conn: AsyncConnection) -> None:
                    await conn.execute(t.zone_transfer_accepts.insert().values(**failed))
                await self.tx(store)
            raise

    def _accept_scope(self, ctx: Context) -> list[sa.ColumnElement[bool]]:
        if self._is_all(ctx) or ctx.is_admin:
            return []
        return [t.zone_transfer_accepts.c.project_id == ctx.require_project()]

    async def get_transfer_accept(self, ctx: Context, accept_id: str) -> dict[str, Any]:
        async def run(conn: AsyncConnection) -> dict[str, Any]:
            row = (await conn.execute(sa.select(t.zone_transfer_accepts).where(
                t.zone_transfer_accepts.c.id == accept_id, *self._accept_scope(ctx)))).first()
            if row is None:
                raise ZoneTransferAcceptNotFound()
            return accept_dict(row)
        return await self.read(run)

    async def list_transfer_accepts(self, ctx: Context, params: ListParams) -> Page:
        """Admin only (Designate's policy)."""
        ctx.require_admin()
        where = [like_or_equal(t.zone_transfer_accepts.c[k], v) for k, v in params.filters.items()]

        async def run(conn: AsyncConnection) -> Page:
            rows, total = await fetch_page(conn, sa.select(t.zone_transfer_accepts),
                                           t.zone_transfer_accepts, where, params)
            return Page([accept_dict(r) for r in rows], total, params.limit)
        return await self.read(run)


class _Obj:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)
