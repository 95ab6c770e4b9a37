"""Talking DNS to the pool's nameservers: SOA serial polls and NOTIFY.

NOTIFY is mdns's job (``mdns.notify.send_notify``); a minimal fallback is used only while that
module is not importable. SOA polls are plain UDP queries (TSIG-signed when the nameserver has
a key), retried with a short backoff starting in milliseconds.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring

from dnsaas import udpclient
from dnsaas.udpclient import ipv4_literal

log = logging.getLogger(__name__)

Endpoint = tuple[str, int]
NotifyFn = Callable[..., Awaitable[dict[Endpoint, bool]]]

#: counters of this process (the worker logs them; tests and the benchmark read them)
stats = {"polls": 0, "watch_loops": 0, "early_notifies": 0}


class Absent(enum.Enum):
    """The nameserver does not serve the zone (REFUSED, NOTAUTH, NXDOMAIN, not authoritative)."""

    ZONE = "absent"


@dataclass(frozen=True)
class Tsig:
    name: str
    algorithm: str
    secret: str

    def key(self) -> dns.tsig.Key:
        """The dnspython key (what ``mdns.notify.send_notify`` takes)."""
        return dns.tsig.Key(self.name, self.secret, self.algorithm)

    def keyring(self) -> dict[dns.name.Name, dns.tsig.Key]:
        key = self.key()
        return {key.name: key}


def serial_gte(a: int, b: int) -> bool:
    """RFC 1982: serial ``a`` is at or after ``b``."""
    return a == b or 0 < ((a - b) & 0xFFFFFFFF) < 2**31


def serial_in(response: dns.message.Message, zone: dns.name.Name) -> int | Absent | None:
    """What a SOA response says about ``zone`` (see :func:`soa_serial`)."""
    rcode = response.rcode()
    if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH, dns.rcode.NXDOMAIN):
        return Absent.ZONE
    if rcode != dns.rcode.NOERROR:
        return None
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == zone and len(rrset):
            return int(rrset[0].serial)  # type: ignore[attr-defined]
    # NOERROR without our SOA: an answer from a parent or a referral, i.e. not served here
    return Absent.ZONE


def parse_soa_serial(msg: bytes, qname: bytes) -> int | Absent | None:
    """:func:`serial_in` of a wire response (None unless it parses as a response);
    ``qname`` is the zone's wire name."""
    try:
        response = dns.message.from_wire(msg)
    except (dns.exception.DNSException, ValueError):
        return None
    if not response.flags & dns.flags.QR:
        return None
    return serial_in(response, dns.name.from_wire(qname, 0)[0])


def _soa_query(zone: str) -> dns.message.Message:
    q = dns.message.make_query(zone, dns.rdatatype.SOA)
    q.flags &= ~dns.flags.RD
    return q


async def soa_serial(endpoint: Endpoint, zone: str, *, tsig: Tsig | None = None,
                     wait: float = 0.5) -> int | Absent | None:
    """The serial ``endpoint`` serves for ``zone``; Absent if it does not serve it; None if it
    did not answer (or answered SERVFAIL: configured but not loaded)."""
    stats["polls"] += 1
    q = _soa_query(zone)
    if tsig is None and (ip := ipv4_literal(endpoint[0])) is not None:
        # the process's shared UDP socket: no socket set-up per poll
        try:
            resp = await udpclient.exchange(q.to_wire(), (ip, endpoint[1]), wait)
        except (TimeoutError, OSError):
            return None
        return parse_soa_serial(resp, q.question[0].name.to_wire())
    if tsig is not None:
        ring = tsig.keyring()
        q.use_tsig(ring, keyname=next(iter(ring)))
    try:
        r = await dns.asyncquery.udp(q, endpoint[0], port=endpoint[1], timeout=wait,
                                     ignore_unexpected=True)
    except (dns.exception.DNSException, OSError, EOFError):
        return None
    return serial_in(r, q.question[0].name)


async def _fallback_notify(zone_name: str, serial: int, targets: list[Endpoint], *,
                           tsig: Any = None, timeout: float = 1.0, retries: int = 2  # noqa: ASYNC109
                           ) -> dict[Endpoint, bool]:
    """NOTIFY (RFC 1996) each target over UDP; True per target that acknowledged."""
    async def one(ep: Endpoint) -> bool:
        for _ in range(retries + 1):
            m = dns.message.make_query(zone_name, dns.rdatatype.SOA)
            m.flags = dns.flags.AA  # flags first: set_opcode writes into flags (peers.md §2)
            m.set_opcode(dns.opcode.NOTIFY)
            if tsig is not None:
                m.use_tsig(tsig)
            try:
                await dns.asyncquery.udp(m, ep[0], port=ep[1], timeout=timeout,
                                         ignore_unexpected=True)
                return True
            except (dns.exception.DNSException, OSError, EOFError):
                continue
        return False
    results = await asyncio.gather(*(one(ep) for ep in targets))
    return dict(zip(targets, results, strict=True))


def notifier() -> NotifyFn:
    """mdns's ``send_notify`` when available, else the fallback above."""
    try:
        from mdns.notify import send_notify
    except ImportError:
        return _fallback_notify
    return send_notify  # type: ignore[no-any-return]


#: SOA poll schedule of one (nameserver, zone) watch: first poll at once, then every
#: ``_FIRST`` seconds growing by ``_GROWTH`` per poll up to ``_LONGEST``; while several zones are
#: watched on one nameserver, their polls are spaced so that it gets at most
#: ``1 / _SPACING`` polls per second from this process (BIND answers each from its own queue).
_FIRST, _GROWTH, _LONGEST, _SPACING = 0.002, 1.5, 0.05, 0.002


@dataclass(eq=False)
class _Goal:
    serial: int
    deleted: bool
    deadline: float
    done: asyncio.Future[bool]

    def met(self, got: int | Absent | None) -> bool:
        if self.deleted:
            return got is Absent.ZONE
        return isinstance(got, int) and serial_gte(got, self.serial)


class _Watch:
    """ONE poll loop for a (nameserver, zone, key), shared by every run in this process that
    waits on it: a burst of runs (or a newer run while an older one still polls) costs one
    query per tick, and a confirmed newer serial satisfies every older goal at once."""

    def __init__(self, endpoint: Endpoint, zone: str, tsig: Tsig | None) -> None:
        self.endpoint, self.zone, self.tsig = endpoint, zone, tsig
        self.goals: list[_Goal] = []
        self.last = "not checked"
        self.delay = _FIRST
        self._wake = asyncio.Event()

    def add(self, goal: _Goal) -> None:
        """A new goal (usually right after a NOTIFY): poll again soon, from the shortest step."""
        self.goals.append(goal)
        self.delay = _FIRST
        self._wake.set()

    async def run(self, registry: dict[Any, _Watch], key: Any, per_ns: dict[Endpoint, int]) -> None:
        loop = asyncio.get_running_loop()
        per_ns[self.endpoint] = per_ns.get(self.endpoint, 0) + 1
        stats["watch_loops"] += 1
        try:
            while self.goals:
                self._wake.clear()
                now = time.monotonic()
                wait = min(0.5, max(0.05, max(g.deadline for g in self.goals) - now))
                got = await soa_serial(self.endpoint, self.zone, tsig=self.tsig, wait=wait)
                self.last = ("no answer" if got is None else "zone absent" if got is Absent.ZONE
                             else f"serial {got}")
                now = time.monotonic()
                pause = max(self.delay, _SPACING * per_ns[self.endpoint])
                for g in list(self.goals):
                    if g.met(got) or now + pause > g.deadline:
                        self.goals.remove(g)
                        if not g.done.done():
                            g.done.set_result(g.met(got))
                if not self.goals:
                    break
                if not self._wake.is_set():  # a goal added while polling: go again at once
                    timer = loop.call_later(pause, self._wake.set)
                    try:
                        await self._wake.wait()
                    finally:
                        timer.cancel()
                    self.delay = min(self.delay * _GROWTH, _LONGEST)
        finally:
            per_ns[self.endpoint] -= 1
            if registry.get(key) is self:
                del registry[key]
            for g in self.goals:
                if not g.done.done():
                    g.done.set_result(False)


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                    tuple[dict[Any, _Watch], dict[Endpoint, int],
                                          set[asyncio.Task[None]]]] = weakref.WeakKeyDictionary()


async def watch_serial(endpoint: Endpoint, zone: str, serial: int, *, deleted: bool,
                       deadline: float, tsig: Tsig | None = None) -> tuple[bool, str]:
    """Wait until ``endpoint`` serves ``zone`` at ``serial`` or newer (or, with ``deleted``, no
    longer serves it), polling its SOA through the process's shared watch for that zone, or
    until ``deadline`` (monotonic). Returns (reached, last thing seen)."""
    loop = asyncio.get_running_loop()
    state = _watches.get(loop)
    if state is None:
        state = _watches[loop] = ({}, {}, set())
    registry, per_ns, tasks = state
    key = (endpoint, zone.lower(), tsig)
    w = registry.get(key)
    if w is None:
        w = registry[key] = _Watch(endpoint, zone, tsig)
        task = loop.create_task(w.run(registry, key, per_ns))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    goal = _Goal(serial, deleted, deadline, loop.create_future())
    w.add(goal)
    try:
        reached = await goal.done
    finally:
        if not goal.done.done():  # cancelled: stop counting on this goal
            goal.done.cancel()
            if goal in w.goals:
                w.goals.remove(goal)
    return reached, ("" if reached else w.last)


def last_seen(endpoint: Endpoint, zone: str, tsig: Tsig | None = None) -> str:
    """What the shared watch of (``endpoint``, ``zone``) last saw ("serial N", "no answer", …);
    "not checked" when nothing watches it."""
    state = _watches.get(asyncio.get_running_loop())
    w = state[0].get((endpoint, zone.lower(), tsig)) if state is not None else None
    return w.last if w is not None else "not checked"


@dataclass
class PollResult:
    """Which nameservers reached the goal, and when the threshold was met."""

    ok: set[Endpoint]
    lagging: dict[Endpoint, str]
    threshold_met_after: float | None


async def wait_for_serial(
    servers: list[tuple[Endpoint, Tsig | None]], zone: str, serial: int, *, deleted: bool,
    threshold: int, deadline: float, on_threshold: Callable[[], Awaitable[None]] | None = None,
    renotify: Callable[[dict[Endpoint, str]], Awaitable[Any]] | None = None,
) -> PollResult:
    """Poll every server's SOA (through :func:`watch_serial`: at once, then from 2 ms backing
    off to 50 ms, spaced out when many zones are watched on one nameserver) until each serves
    ``serial`` (or no longer serves the zone, when ``deleted``) or ``deadline`` (monotonic)
    passes. ``on_threshold`` runs as soon as ``threshold`` percent are there; laggards are
    NOTIFYed again after about 1 s and 3 s (``renotify`` gets each one's last SOA seen)."""
    start = time.monotonic()
    ok: set[Endpoint] = set()
    last: dict[Endpoint, str] = {}
    need = len(servers) * threshold / 100
    met = asyncio.Event()
    met_at: list[float] = []

    async def check_threshold() -> None:
        if not met.is_set() and len(ok) >= need:
            met.set()
            met_at.append(time.monotonic() - start)
            if on_threshold is not None:
                await on_threshold()

    async def poll(ep: Endpoint, tsig: Tsig | None) -> None:
        reached, seen = await watch_serial(ep, zone, serial, deleted=deleted, deadline=deadline,
                                           tsig=tsig)
        if reached:
            ok.add(ep)
            await check_threshold()
        else:
            last[ep] = seen

    async def renotifier() -> None:
        if renotify is None or deleted:
            return
        for at in (1.0, 3.0):
            pause = start + at - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            if time.monotonic() > deadline:
                return
            laggards = {ep: last_seen(ep, zone, k) for ep, k in servers if ep not in ok}
            if not laggards:
                return
            await renotify(laggards)

    await check_threshold()  # zero servers, or threshold 0
    renote = asyncio.create_task(renotifier())
    try:
        await asyncio.gather(*(poll(ep, k) for ep, k in servers))
    finally:
        renote.cancel()
    await check_threshold()
    lagging = {ep: last.get(ep, "not checked") for ep, _ in servers if ep not in ok}
    return PollResult(ok, lagging, met_at[0] if met_at else None)
