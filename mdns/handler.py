"""The protocol logic of mdns: one request message in, response messages out.

No sockets here: :meth:`Handler.handle` takes the request bytes, the source address and the
transport, reads what it needs from the database, and yields wire messages (one for ordinary
queries, many for transfers; none when the request must be dropped).

Rules:
- Shorter than a header, or a response (QR set): dropped.
- Unparseable: FORMERR. TSIG that does not verify: NOTAUTH with the RFC 8945 error (BADKEY,
  BADSIG unsigned; BADTIME signed).
- QUERY: exactly one question (else FORMERR); class IN (else REFUSED); meta types OPT/TSIG/
  TKEY are FORMERR, MAILA/MAILB NOTIMP. Names in no zone: REFUSED. Answers carry AA; NXDOMAIN
  and NODATA carry the SOA in the authority section; CNAMEs are followed inside the zone;
  wildcards are expanded; names at or below a delegation (an NS RRset below the apex) get a
  referral with glue. AXFR/IXFR go to :mod:`mdns.transfer` after the ACL (:mod:`mdns.acl`).
- NOTIFY: for SECONDARY zones only, from the zone's masters (else REFUSED); unknown zones
  NOTAUTH; accepted NOTIFYs enqueue a ``transfer`` job.
- Other opcodes (IQUERY, STATUS, UPDATE, …): NOTIMP.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.tsig
from sqlalchemy.ext.asyncio import AsyncEngine

from dnsaas.settings import Settings
from mdns import acl, transfer
from mdns.tsig import KeyEntry, Keyring, sign, sign_multi, unsigned_error
from mdns.wireutil import AA, QR, RD, TC, compress_owner, header, rr, text_to_wire, wire_to_text
from mdns.zonedata import CNAME, NS, SOA, ZoneInfo, ZoneView, candidates, find_zone

log = logging.getLogger(__name__)

A, AAAA, DS, ANY = 1, 28, 43, 255
AXFR, IXFR = 252, 251
FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, NOTAUTH = 1, 2, 3, 4, 5, 9
BADVERS = 16
OUR_PAYLOAD = 1232
MAX_CNAME_HOPS = 8

Owner = str
RRT = tuple[Owner, int, int, bytes]  # owner text, type, ttl, rdata


@dataclass
class Answer:
    """The sections of an authoritative answer, as (owner, type, ttl, rdata) tuples."""

    rcode: int = 0
    aa: bool = True
    answer: list[RRT] = field(default_factory=list)
    authority: list[RRT] = field(default_factory=list)
    additional: list[RRT] = field(default_factory=list)


@dataclass
class Request:
    """A parsed request and what the response needs from it."""

    q: dns.message.Message
    wire: bytes
    source: tuple[str, int]
    tcp: bool
    key: KeyEntry | None = None

    @property
    def qname(self) -> dns.name.Name:
        return self.q.question[0].name

    @property
    def question(self) -> bytes:
        rrset = self.q.question[0]
        return self.qname.to_wire() + struct.pack("!HH", rrset.rdtype, rrset.rdclass)  # type: ignore[operator]

    @property
    def max_size(self) -> int:
        if self.tcp:
            return 65535
        if self.q.edns >= 0:
            return max(512, min(self.q.payload, 4096))
        return 512


def _ancestors_below(name: str, apex: str) -> list[str]:
    """Names from just below ``apex`` down to ``name`` (inclusive), nearest the apex first."""
    out = []
    for c in candidates(name):
        if c == apex:
            break
        out.append(c)
    return list(reversed(out))


async def resolve(view: ZoneView, qname: str, qtype: int) -> Answer:
    """RFC 1034 §4.3.2 inside one zone (CNAME chain, wildcard, delegation), no recursion."""
    zone = view.zone
    ans = Answer()
    name = qname
    seen: set[str] = set()
    for _hop in range(MAX_CNAME_HOPS + 1):
        seen.add(name)
        below = _ancestors_below(name, zone.name)
        anc = [c for c in candidates(name) if len(c) >= len(zone.name)]
        wanted = set(anc) | {"*." + a for a in anc if a != name}
        sets = await view.rrsets(wanted)
        for cut in below:
            if NS in sets.get(cut, {}) and not (cut == name and qtype == DS):
                ttl, rdatas = sets[cut][NS]
                if not ans.answer:
                    ans.aa = False
                ans.authority = [(cut, NS, ttl, r) for r in rdatas]
                ans.additional = await _glue(view, rdatas, cut)
                return ans
        node = sets.get(name)
        owner = name
        if node is None:
            if await view.has_descendants(name):
                return _negative(ans, zone, 0)
            ce = zone.name
            for a in anc[1:]:
                if a in sets or a == zone.name or await view.has_descendants(a):
                    ce = a
                    break
            node = sets.get("*." + ce)
            if node is None:
                return _negative(ans, zone, NXDOMAIN)
        if qtype == ANY:
            for rtype, (ttl, rdatas) in node.items():
                ans.answer += [(owner, rtype, ttl, r) for r in rdatas]
            return ans
        if qtype in node:
            ttl, rdatas = node[qtype]
            ans.answer += [(owner, qtype, ttl, r) for r in rdatas]
            if qtype == NS:
                ans.additional = await _glue(view, rdatas, zone.name)
            return ans
        if CNAME in node:
            ttl, rdatas = node[CNAME]
            ans.answer.append((owner, CNAME, ttl, rdatas[0]))
            target = wire_to_text(rdatas[0])
            if target in seen or not (target == zone.name or target.endswith("." + zone.name)):
                return ans
            name = target
            continue
        return _negative(ans, zone, 0)
    return ans


def _negative(ans: Answer, zone: ZoneInfo, rcode: int) -> Answer:
    ans.rcode = rcode
    ans.authority = [(zone.name, SOA, zone.negative_ttl, zone.soa_rdata)]
    return ans


async def _glue(view: ZoneView, ns_rdatas: list[bytes], under: str) -> list[RRT]:
    """A/AAAA records of the NS targets that lie at or below ``under`` inside the zone."""
    targets = [wire_to_text(r) for r in ns_rdatas]
    targets = [n for n in targets if n == under or n.endswith("." + under)]
    if not targets:
        return []
    sets = await view.rrsets(targets)
    out: list[RRT] = []
    for n in targets:
        for rtype in (A, AAAA):
            if rtype in sets.get(n, {}):
                ttl, rdatas = sets[n][rtype]
                out += [(n, rtype, ttl, r) for r in rdatas]
    return out


class Handler:
    """Answers requests from the database. Holds only caches keyed by serial."""

    def __init__(self, settings: Settings, engine: AsyncEngine, reader: AsyncEngine | None = None,
                 cache: transfer.TransferCache | None = None, keyring: Keyring | None = None):
        self.settings = settings
        self.engine = engine  # writes (NOTIFY in enqueues a job)
        self.reader = reader or engine
        # single-statement reads (the apex SOA) pay no BEGIN/ROLLBACK round trips
        self.soa_reader = self.reader.execution_options(isolation_level="AUTOCOMMIT")
        self.cache = cache or transfer.TransferCache(settings.transfer_cache_bytes)
        self.keyring = keyring or Keyring(self.reader)
        self._serials: dict[str, tuple[str, int]] = {}  # zone name -> (id, serial) last looked up

    # --- entry point --------------------------------------------------------------------------
    async def handle(self, wire: bytes, source: tuple[str, int], tcp: bool) -> AsyncIterator[bytes]:
        """Yield the response messages for one request (none: drop it)."""
        if len(wire) < 12:
            return
        msg_id, flags = struct.unpack_from("!HH", wire)
        if flags & QR:
            return
        opcode = (flags >> 11) & 0xF
        req_or_error = await self._parse(wire, source, tcp, msg_id, flags)
        if isinstance(req_or_error, bytes):
            yield req_or_error
            return
        if req_or_error is None:
            return
        req = req_or_error
        try:
            if opcode == dns.opcode.QUERY:
                async for out in self._query(req):
                    yield out
            elif opcode == dns.opcode.NOTIFY:
                yield await self._notify(req)
            else:
                yield self._reply(req, NOTIMP, question=False)
        except Exception:
            log.exception("error answering %s from %s", req.q.question[:1], source)
            yield self._reply(req, SERVFAIL)

    async def _parse(self, wire: bytes, source: tuple[str, int], tcp: bool, msg_id: int,
                     flags: int) -> Request | bytes | None:
        self.keyring.refresh_soon()  # requests never wait for the periodic key check
        for attempt in (0, 1):
            try:
                q = dns.message.from_wire(wire, keyring=self.keyring.lookup)
                return Request(q, wire, source, tcp, self.keyring.entry(q.keyname if q.had_tsig
                                                                        else None))
            except dns.message.UnknownTSIGKey:
                if attempt == 0:
                    await self.keyring.refresh(force=True)
                    continue
                return self._tsig_error(wire, source, tcp, msg_id, flags, dns.rcode.BADKEY)
            except dns.tsig.BadSignature:
                return self._tsig_error(wire, source, tcp, msg_id, flags, dns.rcode.BADSIG)
            except (dns.tsig.BadTime, dns.tsig.BadKey, dns.tsig.BadAlgorithm) as exc:
                code = dns.rcode.BADTIME if isinstance(exc, dns.tsig.BadTime) else dns.rcode.BADKEY
                return self._tsig_error(wire, source, tcp, msg_id, flags, code)
            except Exception:
                return self._formerr(msg_id, flags)
        return None

    def _formerr(self, msg_id: int, flags: int) -> bytes:
        opcode_bits = flags & 0x7800
        return header(msg_id, QR | opcode_bits | (flags & RD) | FORMERR, 0, 0, 0, 0)

    def _tsig_error(self, wire: bytes, source: tuple[str, int], tcp: bool, msg_id: int,
                    flags: int, error: int) -> bytes:
        try:
            q = dns.message.from_wire(wire, keyring=False)
        except Exception:
            return self._formerr(msg_id, flags)
        if q.tsig is None:
            return self._formerr(msg_id, flags)
        req = Request(q, wire, source, tcp)
        body = self._reply(req, NOTAUTH, sign_it=False)
        if error == dns.rcode.BADTIME:
            entry = self.keyring.entry(q.keyname)
            if entry is not None:
                import time as _time
                other = struct.pack("!HI", (int(_time.time()) >> 32) & 0xFFFF,
                                    int(_time.time()) & 0xFFFFFFFF)
                return sign(body, entry.key, q.mac or b"", q.tsig[0].original_id, error=error,
                            other=other)
        return unsigned_error(body, q, error)

    # --- rendering ----------------------------------------------------------------------------
    def _reply(self, req: Request, rcode: int, *, aa: bool = False, answer: list[bytes] = (),  # type: ignore[assignment]
               authority: list[bytes] = (), additional: list[bytes] = (),  # type: ignore[assignment]
               question: bool = True, sign_it: bool = True) -> bytes:
        """One response message; truncated (TC) when it does not fit the transport."""
        q = req.q
        flags = QR | (q.flags & 0x7800) | (q.flags & RD) | (AA if aa else 0) | (rcode & 0xF)
        qd = req.question if question and q.question else b""
        opt = b""
        if q.edns >= 0:
            ext = (rcode >> 4) & 0xFF
            if q.edns > 0:
                ext = BADVERS >> 4
                flags &= ~0xF
                answer, authority, additional = [], [], []
            opt = b"\x00" + struct.pack("!HHIH", 41, OUR_PAYLOAD, ext << 24, 0)
        reserve = len(opt) + (700 if q.had_tsig else 0)
        limit = req.max_size - reserve
        sections = [list(answer), list(authority), list(additional)]
        size = 12 + len(qd) + sum(len(x) for s in sections for x in s)
        if size > limit:
            # drop the additional section first, then truncate
            size -= sum(len(x) for x in sections[2])
            sections[2] = []
            if size > limit:
                flags |= TC
                sections = [[], [], []]
        ar = len(sections[2]) + (1 if opt else 0)
        wire = (header(q.id, flags, 1 if qd else 0, len(sections[0]), len(sections[1]), ar)
                + qd + b"".join(sections[0]) + b"".join(sections[1]) + b"".join(sections[2]) + opt)
        if sign_it and q.had_tsig and req.key is not None:
            wire = sign(wire, req.key.key, q.mac or b"", q.tsig[0].original_id)  # type: ignore[index]
        return wire

    def _render(self, req: Request, rrs: list[RRT]) -> list[bytes]:
        qname = req.qname.to_wire().lower()  # type: ignore[union-attr]
        return [rr(compress_owner(text_to_wire(o), qname), t, ttl, rd) for o, t, ttl, rd in rrs]

    # --- QUERY --------------------------------------------------------------------------------
    async def _query(self, req: Request) -> AsyncIterator[bytes]:
        q = req.q
        if len(q.question) != 1:
            yield self._reply(req, FORMERR, question=False)
            return
        rrset = q.question[0]
        qtype, qclass = int(rrset.rdtype), int(rrset.rdclass)
        if qclass != 1:
            yield self._reply(req, REFUSED)
            return
        if qtype in (41, 250, 249):
            yield self._reply(req, FORMERR)
            return
        if qtype in (253, 254):
            yield self._reply(req, NOTIMP)
            return
        qname = str(req.qname).lower()
        if qtype in (AXFR, IXFR):
            async for out in self._transfer(req, qname, qtype):
                yield out
            return
        if qtype == SOA:  # a secondary's refresh check: the SOA comes with the zone lookup
            async with self.soa_reader.connect() as conn:
                zone = await find_zone(conn, qname)
            if zone is not None and zone.name == qname and not zone.catalog:
                yield self._reply(req, 0, aa=True, answer=self._render(
                    req, [(zone.name, SOA, zone.ttl, zone.soa_rdata)]))
                return
        async with self.reader.connect() as conn:
            zone = await find_zone(conn, qname)
            if zone is None:
                yield self._reply(req, REFUSED)
                return
            ans = await resolve(ZoneView(conn, zone), qname, qtype)
            await conn.rollback()
        yield self._reply(req, ans.rcode, aa=ans.aa, answer=self._render(req, ans.answer),
                          authority=self._render(req, ans.authority),
                          additional=self._render(req, ans.additional))

    # --- transfers ----------------------------------------------------------------------------
    async def _transfer(self, req: Request, qname: str, qtype: int) -> AsyncIterator[bytes]:
        if qtype == AXFR and not req.tcp:
            yield self._reply(req, FORMERR)
            return
        client_serial: int | None = None
        if qtype == IXFR:
            auth = [r for r in req.q.authority if r.rdtype == dns.rdatatype.SOA]
            if not auth or not len(auth[0]):
                yield self._reply(req, FORMERR)
                return
            client_serial = int(auth[0][0].serial)  # type: ignore[attr-defined]
        # Autocommit, no snapshot: the zone lookup is one statement (its serial and SOA are one
        # state of the zone), and the IXFR journal chain is walked back from exactly that
        # serial — entries up to a committed serial never change, so the reply is consistent
        # without a REPEATABLE READ transaction. Round trips: zone + ACL, chain (none cached).
        plan: transfer.IxfrPlan | None = None
        # read the journal chain with the zone unless the reply is expected from the cache
        want_chain = client_serial is not None and not self._ixfr_cached(qname, client_serial)
        async with self.soa_reader.connect() as conn:
            zone, allowed, chain = await acl.transfer_lookup(
                conn, qname, req.source[0], req.key, self.settings.allow_transfer_from,
                client_serial if want_chain else None)
            if zone is not None:
                if len(self._serials) > 100_000:
                    self._serials.clear()
                self._serials[qname] = (zone.id, zone.serial)
                if allowed and client_serial is not None:
                    plan = await transfer.plan_ixfr(conn, zone, client_serial, self.cache, chain)
        if zone is None:
            yield self._reply(req, NOTAUTH)
            return
        if not allowed:
            log.info("transfer of %s refused for %s", qname, req.source[0])
            yield self._reply(req, REFUSED)
            return
        if plan is not None:
            cur = zone
            single_soa = [transfer.soa_rr_compressed(cur)]
            if plan.kind == "current":
                yield self._reply(req, 0, aa=True, answer=single_soa)
                return
            if not req.tcp:
                if plan.kind == "incremental" and len(plan.bodies) == 1 and (
                        12 + len(req.question) + plan.size + 700 <= req.max_size):
                    async for out in self._stream(req, plan.bodies):
                        yield out
                else:
                    yield self._reply(req, 0, aa=True, answer=single_soa)
                return
            if plan.kind == "incremental":
                async for out in self._stream(req, plan.bodies):
                    yield out
                return
        async for out in self._axfr(req, zone):
            yield out

    async def warm_up(self) -> None:
        """Load the TSIG keys and prepare the transfer lookup on a pooled connection, so the
        first transfer pays no statement preparation or key check (called at server start)."""
        async def run() -> None:
            await self.keyring.refresh()
            async with self.soa_reader.connect() as conn:
                await acl.transfer_lookup(conn, ".", "127.0.0.1", None, [], 0)
        try:
            await asyncio.wait_for(run(), 5.0)
        except Exception as exc:  # the database may come up later: requests retry anyway
            log.warning("mdns warm-up failed: %r", exc)

    def _ixfr_cached(self, qname: str, client_serial: int) -> bool:
        """True when the IXFR reply is known without the journal at the zone's last seen serial."""
        seen = self._serials.get(qname)
        if seen is None:
            return False
        zone_id, serial = seen
        # a client current at the last seen serial is most likely behind now (it was NOTIFYed):
        # only a cached reply counts; the chain query costs nothing when it is still current
        return self.cache.get(zone_id, serial, client_serial) is not None

    async def _axfr(self, req: Request, zone: ZoneInfo) -> AsyncIterator[bytes]:
        cached = None if zone.catalog else self.cache.get(zone.id, zone.serial)
        if cached is not None:
            async for out in self._stream(req, cached.bodies):
                yield out
            return
        async with transfer.snapshot(self.reader) as conn:
            cur = await transfer.current_zone(conn, zone)
            if cur is None:
                yield self._reply(req, NOTAUTH)
                return
            cached = None if cur.catalog else self.cache.get(cur.id, cur.serial)
            if cached is not None:
                bodies: Any = _aiter(cached.bodies)
            else:
                bodies = transfer.render_axfr(conn, cur)
            keep: list[tuple[int, bytes]] | None = [] if cached is None and not cur.catalog else None
            nbytes = 0
            async for out in self._stream(req, bodies, keep):
                yield out
            if keep is not None:
                nbytes = sum(len(b) for _, b in keep)
                self.cache.put(cur.id, cur.serial, transfer.Rendered(
                    keep, nbytes, sum(c for c, _ in keep)))

    async def _stream(self, req: Request, bodies: Any,
                      keep: list[tuple[int, bytes]] | None = None) -> AsyncIterator[bytes]:
        """Wrap bodies into messages: header + the request's question + body (+ TSIG)."""
        q = req.q
        flags = QR | AA | (q.flags & 0x7800)
        qd = req.question
        key = req.key.key if (q.had_tsig and req.key is not None) else None
        ctx = None
        hpack = struct.Struct("!HHHHHH").pack
        mid = q.id
        budget = self.cache.max_bytes
        size = 0
        if isinstance(bodies, list):
            bodies = _aiter(bodies)
        async for count, body in bodies:
            if keep is not None:
                size += len(body)
                if size > budget:
                    keep.clear()
                    keep = None
                else:
                    keep.append((count, body))
            msg = hpack(mid, flags, 1, count, 0, 0) + qd + body
            if key is not None:
                msg, ctx = sign_multi(msg, key, q.mac or b"", q.tsig[0].original_id, ctx)  # type: ignore[index]
            yield msg

    # --- NOTIFY -------------------------------------------------------------------------------
    async def _notify(self, req: Request) -> bytes:
        from dnsaas.service.changes import upsert_job
        from dnsaas.storage.db import in_transaction

        q = req.q
        if len(q.question) != 1 or int(q.question[0].rdclass) != 1:
            return self._reply(req, FORMERR, question=bool(q.question))
        qname = str(req.qname).lower()
        async with self.reader.connect() as conn:
            zone = await find_zone(conn, qname)
            await conn.rollback()
        if zone is None or zone.name != qname or zone.type != "SECONDARY":
            return self._reply(req, NOTAUTH)
        if not acl.notify_allowed(zone, req.source[0]):
            log.info("NOTIFY for %s from non-master %s refused", qname, req.source[0])
            return self._reply(req, REFUSED)
        serial = zone.serial
        for rrset in q.answer:
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                serial = int(rrset[0].serial)  # type: ignore[attr-defined]

        async def enqueue(conn: Any) -> None:
            await upsert_job(conn, zone.id, "transfer", serial,
                             payload={"master": list(req.source)})
        await in_transaction(self.engine, enqueue)
        return self._reply(req, 0, aa=True)


async def _aiter(items: list[tuple[int, bytes]]) -> AsyncIterator[tuple[int, bytes]]:
    for item in items:
        yield item
