"""TSIG for mdns: a keyring read from the ``tsigkeys`` table, and signing of wire messages.

Signing uses dnspython's renderer and TSIG primitives on messages that mdns assembled as
bytes: the bytes are loaded into a :class:`dns.renderer.Renderer`, which appends the TSIG RR
(``add_tsig`` for one message, ``add_multi_tsig`` for each message of a transfer, RFC 8945
§5.3.1). Nothing here computes a MAC by hand.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import struct
import time
from dataclasses import dataclass
from typing import Any

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.renderer
import dns.tsig
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dnsaas.storage import tables as t

log = logging.getLogger(__name__)

ALGORITHMS: dict[str, dns.name.Name] = {
    "hmac-md5": dns.tsig.HMAC_MD5,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}
FUDGE = 300


@dataclass(frozen=True)
class KeyEntry:
    """One key of the keyring with its Designate scope (POOL or ZONE) and resource id."""

    key: dns.tsig.Key
    scope: str
    resource_id: str


def make_key(name: str, algorithm: str, secret: str) -> dns.tsig.Key:
    """A dnspython key from a tsigkeys row's fields."""
    alg = ALGORITHMS.get(algorithm.lower(), dns.name.from_text(algorithm))
    return dns.tsig.Key(dns.name.from_text(name), base64.b64decode(secret), alg)


class Keyring:
    """The tsigkeys table as a dnspython keyring, re-read when the table changes.

    The table's fingerprint (row count and newest timestamp) is checked at most every
    ``interval`` seconds, in the background (:meth:`refresh_soon`: no request waits for it);
    an unknown key name forces a check (rate limited), so a key created through the API is
    usable within one request.
    """

    def __init__(self, engine: AsyncEngine, interval: float = 2.0):
        self.engine = engine
        self.interval = interval
        self.entries: dict[dns.name.Name, KeyEntry] = {}
        self._fingerprint: Any = None
        self._checked = 0.0
        self._pending: asyncio.Task[None] | None = None

    def refresh_soon(self) -> None:
        """Start a background check when the last one is ``interval`` seconds old."""
        if self._pending is None and time.monotonic() - self._checked >= self.interval:
            self._pending = asyncio.ensure_future(self._background())

    async def _background(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # the next request tries again
            log.warning("TSIG keyring check failed: %s", exc)
        finally:
            self._pending = None

    async def refresh(self, force: bool = False) -> None:
        """Reload the keys if the table changed (checked every ``interval`` seconds); waits for
        a background check in flight first."""
        if self._pending is not None and self._pending is not asyncio.current_task():
            await asyncio.shield(self._pending)
        now = time.monotonic()
        if not force and now - self._checked < self.interval:
            return
        if force and now - self._checked < 0.05:
            return
        self._checked = now
        k = t.tsigkeys
        async with self.engine.connect() as conn:
            fp = tuple((await conn.execute(sa.select(
                sa.func.count(), sa.func.max(k.c.created_at), sa.func.max(k.c.updated_at),
                sa.func.sum(k.c.version)))).one())
            if fp == self._fingerprint:
                return
            rows = (await conn.execute(sa.select(k.c.name, k.c.algorithm, k.c.secret, k.c.scope,
                                                 k.c.resource_id))).all()
        entries: dict[dns.name.Name, KeyEntry] = {}
        for row in rows:
            try:
                key = make_key(row.name, row.algorithm, row.secret)
            except Exception as exc:  # a malformed row must not take the keyring down
                log.warning("skipping TSIG key %s: %s", row.name, exc)
                continue
            entries[key.name] = KeyEntry(key, row.scope, row.resource_id)
        self.entries = entries
        self._fingerprint = fp

    def lookup(self, _message: Any, name: dns.name.Name) -> dns.tsig.Key | None:
        """dnspython keyring callable: the key called ``name`` or None."""
        entry = self.entries.get(name)
        return entry.key if entry else None

    def entry(self, name: dns.name.Name | None) -> KeyEntry | None:
        return self.entries.get(name) if name is not None else None


def _renderer_over(wire: bytes) -> dns.renderer.Renderer:
    """A renderer whose output already holds ``wire`` (a complete message, header written)."""
    r = dns.renderer.Renderer(max_size=65535)
    r.output = io.BytesIO()
    r.output.write(wire)
    r.counts = list(struct.unpack_from("!HHHH", wire, 4))
    r.section = dns.renderer.ADDITIONAL
    return r


def sign(wire: bytes, key: dns.tsig.Key, request_mac: bytes, original_id: int, *,
         error: int = 0, other: bytes = b"") -> bytes:
    """``wire`` with a TSIG RR appended (a single signed response)."""
    r = _renderer_over(wire)
    r.add_tsig(key.name, key, FUDGE, original_id, error, other, request_mac, key.algorithm)
    return r.get_wire()


def sign_multi(wire: bytes, key: dns.tsig.Key, request_mac: bytes, original_id: int,
               ctx: Any) -> tuple[bytes, Any]:
    """Sign one message of a multi-message response; pass ``ctx=None`` for the first one and
    the returned context for each following message."""
    r = _renderer_over(wire)
    ctx = r.add_multi_tsig(ctx, key.name, key, FUDGE, original_id, 0, b"", request_mac,
                           key.algorithm)
    return r.get_wire(), ctx


def unsigned_error(wire: bytes, q: dns.message.Message, error: int) -> bytes:
    """Append the RFC 8945 §5.3.2 error TSIG (empty MAC, unsigned) for BADKEY/BADSIG."""
    assert q.tsig is not None
    trd = q.tsig[0]
    rd = dns.rdtypes.ANY.TSIG.TSIG(dns.rdataclass.ANY, dns.rdatatype.TSIG, trd.algorithm,
                                   trd.time_signed, trd.fudge, b"", trd.original_id, error, b"")
    rdata = rd.to_wire()
    assert rdata is not None
    rr = (q.tsig.name.to_wire() + struct.pack("!HHIH", dns.rdatatype.TSIG, dns.rdataclass.ANY, 0,
                                               len(rdata)) + rdata)
    ar = struct.unpack_from("!H", wire, 10)[0]
    return wire[:10] + struct.pack("!H", ar + 1) + wire[12:] + rr


TSIG_ERRORS = {
    "BADKEY": dns.rcode.BADKEY,
    "BADSIG": dns.rcode.BADSIG,
    "BADTIME": dns.rcode.BADTIME,
}
