"""API tokens: created once (the plaintext is shown only then), stored as a SHA-256 hash,
looked up by hash and compared in constant time, optionally expiring."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from dnsaas.errors import InvalidObject, NotFound, error_entry
from dnsaas.service import changes
from dnsaas.service.base import ServiceBase, iso
from dnsaas.storage import tables as t

ROLES = ("admin", "member", "reader")
TOKEN_PREFIX = "dnsaas_"
# last_used_at is written at most this often per token, so reads stay reads.
LAST_USED_GRANULARITY = timedelta(seconds=60)


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_dict(row: Any) -> dict[str, Any]:
    """A token row without its hash."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "user_id": row.user_id,
        "roles": list(row.roles or []),
        "description": row.description,
        "expires_at": iso(row.expires_at),
        "last_used_at": iso(row.last_used_at),
        "created_at": iso(row.created_at),
    }


class TokenService(ServiceBase):
    """Create, list, revoke and look up API tokens."""

    async def create_token(self, project_id: str, roles: list[str], *, user_id: str | None = None,
                           description: str | None = None,
                           expires_in: float | None = None) -> tuple[str, dict[str, Any]]:
        """A new token; returns (plaintext, stored row). The plaintext is not kept anywhere."""
        errors = []
        if not isinstance(project_id, str) or not project_id or len(project_id) > 255:
            errors.append(error_entry(["project_id"], "project_id must be a non-empty string"))
        bad = [r for r in roles if r not in ROLES]
        if not roles or bad:
            errors.append(error_entry(["roles"], f"roles must be a non-empty subset of {list(ROLES)}",
                                      "enum", list(ROLES)))
        if description is not None and len(description) > 160:
            errors.append(error_entry(["description"], "description is longer than 160 characters",
                                      "maxLength", 160))
        if expires_in is not None and expires_in <= 0:
            errors.append(error_entry(["expires_in"], "expires_in must be positive", "minimum", 0))
        if errors:
            raise InvalidObject(errors[0]["message"], errors=errors)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = changes.utcnow()
        row = dict(id=changes.new_id(), token_hash=hash_token(token), project_id=project_id,
                   user_id=user_id, roles=sorted(set(roles), key=ROLES.index),
                   description=description, created_at=now, last_used_at=None, updated_at=None,
                   expires_at=now + timedelta(seconds=expires_in) if expires_in else None)

        async def run(conn: AsyncConnection) -> None:
            await conn.execute(t.api_tokens.insert().values(**row))
        await self.tx(run)
        return token, token_dict(_Obj(row))

    async def list_tokens(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """Every token (or a project's), oldest first, without hashes."""
        q = sa.select(t.api_tokens).order_by(t.api_tokens.c.created_at, t.api_tokens.c.id)
        if project_id is not None:
            q = q.where(t.api_tokens.c.project_id == project_id)

        async def run(conn: AsyncConnection) -> list[dict[str, Any]]:
            return [token_dict(r) for r in (await conn.execute(q)).all()]
        return await self.read(run)

    async def revoke_token(self, token_id: str) -> None:
        """Delete a token by id; 404 when there is none."""
        async def run(conn: AsyncConnection) -> None:
            res = await conn.execute(t.api_tokens.delete().where(t.api_tokens.c.id == token_id))
            if res.rowcount == 0:
                raise NotFound(f"Token {token_id} not found")
        await self.tx(run)

    async def lookup_token(self, token: str) -> dict[str, Any] | None:
        """The live token row for a presented plaintext, or None (unknown or expired)."""
        if not token:
            return None
        digest = hash_token(token)
        now = changes.utcnow()

        async def run(conn: AsyncConnection) -> dict[str, Any] | None:
            row = (await conn.execute(sa.select(t.api_tokens).where(
                t.api_tokens.c.token_hash == digest))).first()
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                return None
            if row.expires_at is not None and row.expires_at <= now:
                return None
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
                await conn.execute(t.api_tokens.update().where(t.api_tokens.c.id == row.id)
                                   .values(last_used_at=now))
                await conn.commit()
            return token_dict(row)
        return await self.read(run)


class _Obj:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)
