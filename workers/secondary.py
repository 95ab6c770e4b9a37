"""SECONDARY zones: pull AXFR/IXFR from the zone's masters and store the result like any change.

The transfer itself is dnspython's (``dns.asyncquery.inbound_xfr`` driving ``dns.xfr.Inbound``);
it writes through :class:`XfrManager`, a ``TransactionManager`` whose transactions work on a
snapshot of the zone read from the database. Only a transfer that dnspython completes (final
SOA, TSIG where asked) commits; a broken, truncated or oversized one raises, nothing is written
and the zone keeps serving its last good data. The committed content is then diffed against the
database and stored in one transaction: recordsets/records (text + wire, exact
``recordset_count``), ``transferred_at``, the SOA timers and the master's serial, a journal
entry (IXFR for our nameservers), and the zone's ``propagate`` job, via ``commit_change``.

The master's SOA and apex NS are not stored: the zone is served by its pool, with the pool's
NS and our SOA (carrying the master's serial and timers). Record types dnsaas does not serve
are skipped. After each run the ``transfer`` job is re-armed for the SOA refresh interval, so a
zone is refreshed periodically even without NOTIFY; a master that is down only delays that.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Iterator
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.node
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.serial
import dns.transaction
import dns.xfr
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from backends.base import ZoneRef
from dnsaas import wire
from dnsaas.records import SUPPORTED_TYPES
from dnsaas.service import Service, changes
from dnsaas.service.zones import insert_rrsets, parse_master
from dnsaas.settings import Settings
from dnsaas.storage import tables as t
from workers.propagation import Outcome, Propagator
from workers.queue import Job

log = logging.getLogger(__name__)

Key = tuple[dns.name.Name, int, int]  # (owner, rdtype, covers)
JOURNAL_MAX_RRS = 20000  # bigger changes are journaled as non-incremental


class TransferTooLarge(dns.exception.DNSException):
    """The transfer has more records than allowed."""


class XfrTransaction(dns.transaction.Transaction):
    """A write transaction over the manager's snapshot (copy on write)."""

    def __init__(self, manager: XfrManager, replacement: bool):
        super().__init__(manager, replacement, False)
        self.data: dict[Key, dns.rdataset.Rdataset] = {} if replacement else dict(manager.snapshot)
        self.records = 0 if replacement else sum(len(r) for r in self.data.values())

    @property
    def _mgr(self) -> XfrManager:
        return self.manager  # type: ignore[return-value]

    def _get_rdataset(self, name: dns.name.Name, rdtype: int, covers: int
                      ) -> dns.rdataset.Rdataset | None:
        return self.data.get((name, rdtype, covers))

    def _put_rdataset(self, name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> None:
        key = (name, int(rdataset.rdtype), int(rdataset.covers))
        old = self.data.get(key)
        self.records += len(rdataset) - (len(old) if old is not None else 0)
        if self.records > self._mgr.max_records:
            raise TransferTooLarge(f"more than {self._mgr.max_records} records")
        self.data[key] = rdataset

    def _delete_name(self, name: dns.name.Name) -> None:
        for key in [k for k in self.data if k[0] == name]:
            self.records -= len(self.data.pop(key))

    def _delete_rdataset(self, name: dns.name.Name, rdtype: int, covers: int) -> None:
        old = self.data.pop((name, rdtype, covers), None)
        if old is not None:
            self.records -= len(old)

    def _name_exists(self, name: dns.name.Name) -> bool:
        return any(k[0] == name for k in self.data)

    def _changed(self) -> bool:
        return True

    def _end_transaction(self, commit: bool) -> None:
        if commit:
            self._mgr.result = self.data

    def _set_origin(self, origin: dns.name.Name | None) -> None:
        pass

    def _iterate_rdatasets(self) -> Iterator[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
        for (name, _, _), rdataset in self.data.items():
            yield name, rdataset

    def _iterate_names(self) -> Iterator[dns.name.Name]:
        return iter({k[0] for k in self.data})

    def _get_node(self, name: dns.name.Name) -> dns.node.Node | None:
        sets = [r for k, r in self.data.items() if k[0] == name]
        if not sets:
            return None
        node = dns.node.Node()
        node.rdatasets.extend(sets)
        return node


class XfrManager(dns.transaction.TransactionManager):
    """The zone as the inbound transfer sees it: ``snapshot`` is its content before (for IXFR:
    the master's SOA plus the stored records), ``result`` the committed content after."""

    def __init__(self, origin: str, snapshot: dict[Key, dns.rdataset.Rdataset],
                 max_records: int):
        self.origin = dns.name.from_text(origin)
        self.snapshot = snapshot
        self.max_records = max_records
        self.result: dict[Key, dns.rdataset.Rdataset] | None = None

    def reader(self) -> dns.transaction.Transaction:
        return XfrTransaction(self, False)

    def writer(self, replacement: bool = False) -> dns.transaction.Transaction:
        return XfrTransaction(self, replacement)

    def origin_information(self) -> tuple[dns.name.Name, bool, dns.name.Name]:
        return self.origin, False, self.origin

    def get_class(self) -> dns.rdataclass.RdataClass:
        return dns.rdataclass.IN

    def from_wire_origin(self) -> dns.name.Name | None:
        return None  # names stay absolute


async def _address(host: str) -> str:
    """An IP address for a master given by name or address."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return host
    except OSError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return str(infos[0][4][0])


class SecondaryTransfers:
    """Runs ``transfer`` jobs."""

    def __init__(self, service: Service, settings: Settings, *, timeout: float = 5.0,
                 lifetime: float = 120.0, max_records: int = 1_000_000):
        self.service = service
        self.settings = settings
        self.timeout = timeout
        self.lifetime = lifetime
        self.max_records = max_records

    async def run(self, job: Job) -> Outcome:
        """Check the masters and pull the zone when one has a newer serial (or the zone was
        never transferred, or the job asks for it)."""
        zone = await self._zone(job.zone_id)
        if zone is None or zone.type != "SECONDARY" or zone.action == "DELETE":
            return Outcome(ok=True, active=True)
        masters = [parse_master(m) for m in zone.masters or []]
        first = job.payload.get("master")
        if first:
            host = str(first[0])
            masters.sort(key=lambda m: m[0] != host)
        else:
            random.shuffle(masters)
        problems: list[str] = []
        for host, port in masters:
            try:
                address = await _address(host)
                serial = await self._master_serial(zone.name, address, port)
                if zone.transferred_at is not None and dns.serial.Serial(serial) <= \
                        dns.serial.Serial(int(zone.serial)):
                    await self._rearm(zone, int(zone.serial), zone.refresh)
                    return Outcome(ok=True, active=True)
                result = await self._transfer(zone, address, port)
                stored = await self._store(job.zone_id, result)
                await self._rearm(zone, stored, zone.refresh)
                return Outcome(ok=True, active=True)
            except (dns.exception.DNSException, OSError, TimeoutError, EOFError,
                    ValueError) as exc:
                problems.append(f"{host}:{port} {type(exc).__name__}: {exc}")
                log.warning("transfer of %s from %s:%s failed: %s", zone.name, host, port, exc)
        # Keep serving the last good data; retry with backoff (the job's retry path).
        return Outcome(ok=False, active=True, error="; ".join(problems) or "no masters")

    async def _zone(self, zone_id: str) -> Any:
        async def run(conn: AsyncConnection) -> Any:
            return (await conn.execute(sa.select(t.zones).where(
                t.zones.c.id == zone_id, t.zones.c.deleted_at.is_(None)))).first()
        return await self.service.read(run)

    async def _master_serial(self, zone: str, address: str, port: int) -> int:
        query = dns.message.make_query(zone, dns.rdatatype.SOA)
        response = await dns.asyncquery.udp(query, address, timeout=self.timeout, port=port)
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA and rrset.name == dns.name.from_text(zone):
                return int(rrset[0].serial)  # type: ignore[attr-defined]
        raise dns.exception.FormError(f"no SOA for {zone} (rcode {response.rcode()})")

    async def _snapshot(self, zone: Any) -> dict[Key, dns.rdataset.Rdataset]:
        """The zone as the master last sent it, for IXFR: the stored unmanaged records plus an
        SOA with the stored serial."""
        async def run(conn: AsyncConnection) -> dict[Key, dns.rdataset.Rdataset]:
            rows = (await conn.execute(
                sa.select(t.recordsets.c.name, t.recordsets.c.type, t.recordsets.c.ttl,
                          t.records.c.rdata)
                .join(t.records, t.records.c.recordset_id == t.recordsets.c.id)
                .where(t.recordsets.c.zone_id == zone.id, t.recordsets.c.managed.is_(False))
            )).all()
            out: dict[Key, dns.rdataset.Rdataset] = {}
            for r in rows:
                code = wire.type_code(r.type)
                key = (dns.name.from_text(r.name), code, 0)
                rds = out.get(key)
                if rds is None:
                    rds = out[key] = dns.rdataset.Rdataset(dns.rdataclass.IN, code)
                rdata = dns.rdata.from_wire(dns.rdataclass.IN, code, bytes(r.rdata), 0,
                                            len(r.rdata))
                rds.add(rdata, changes.effective_ttl(r.ttl, zone.ttl))
            return out
        return await self.service.read(run)

    async def _transfer(self, zone: Any, address: str, port: int
                        ) -> dict[Key, dns.rdataset.Rdataset]:
        """IXFR from the stored serial when the zone was transferred before (falling back to
        AXFR when the master cannot, or the diff does not apply), else AXFR."""
        if zone.transferred_at is not None:
            snapshot = await self._snapshot(zone)
            manager = XfrManager(zone.name, snapshot, self.max_records)
            query, _ = dns.xfr.make_query(manager, serial=int(zone.serial))
            try:
                await dns.asyncquery.inbound_xfr(address, manager, query, port=port,
                                                 timeout=self.timeout, lifetime=self.lifetime)
                if manager.result is not None:
                    return manager.result
            except TransferTooLarge:
                raise
            except (dns.exception.DNSException, EOFError) as exc:
                log.info("IXFR of %s failed (%s); trying AXFR", zone.name, exc)
        manager = XfrManager(zone.name, {}, self.max_records)
        query, _ = dns.xfr.make_query(manager, serial=None)
        await dns.asyncquery.inbound_xfr(address, manager, query, port=port,
                                         timeout=self.timeout, lifetime=self.lifetime)
        if manager.result is None:
            raise dns.exception.FormError("the transfer did not complete")
        return manager.result

    async def _rearm(self, zone: Any, serial: int, refresh: int) -> None:
        """Run this zone's transfer job again after the SOA refresh interval."""
        async def run(conn: AsyncConnection) -> None:
            await changes.upsert_job(conn, zone.id, "transfer", serial, payload={},
                                     delay=float(refresh))
        await self.service.tx(run)

    async def _store(self, zone_id: str, result: dict[Key, dns.rdataset.Rdataset]) -> int:
        """Write the transferred content as one change; returns the zone's serial after."""
        async def run(conn: AsyncConnection) -> int:
            zone = await changes.lock_zone(conn, zone_id)
            if zone is None:
                return 0
            return await store_transfer(conn, zone, result,
                                        self.settings.journal_retention)
        return await self.service.tx(run)


async def store_transfer(conn: AsyncConnection, zone: Any,
                         result: dict[Key, dns.rdataset.Rdataset], retention: int) -> int:
    """Diff ``result`` against the stored records of the locked ``zone`` and commit it."""
    origin = dns.name.from_text(zone.name)
    soa = result.get((origin, dns.rdatatype.SOA, 0))
    if soa is None:
        raise dns.exception.FormError("no SOA in the transfer")
    soa_rd: Any = soa[0]
    new: dict[tuple[str, str], tuple[int, dict[bytes, str]]] = {}
    for (name, rdtype, _), rds in result.items():
        rtype = dns.rdatatype.to_text(rdtype)
        if rtype not in SUPPORTED_TYPES or rtype == "SOA" or (rtype == "NS" and name == origin):
            continue
        records = {rd.to_wire(): rd.to_text() for rd in rds}
        new[(name.to_text().lower(), rtype)] = (int(rds.ttl), records)
    rows = (await conn.execute(
        sa.select(t.recordsets.c.id, t.recordsets.c.name, t.recordsets.c.type,
                  t.recordsets.c.ttl, t.records.c.id.label("record_id"), t.records.c.rdata)
        .join(t.records, t.records.c.recordset_id == t.recordsets.c.id)
        .where(t.recordsets.c.zone_id == zone.id, t.recordsets.c.managed.is_(False)))).all()
    old: dict[tuple[str, str], tuple[str, int | None, dict[bytes, str]]] = {}
    for r in rows:
        entry = old.setdefault((r.name, r.type), (r.id, r.ttl, {}))
        entry[2][bytes(r.rdata)] = r.record_id
    now = changes.utcnow()
    removed: list[bytes] = []
    added: list[bytes] = []
    gone_sets: list[str] = []
    gone_records: list[str] = []
    fresh_sets: list[dict[str, Any]] = []
    fresh_records: list[dict[str, Any]] = []
    for key in old.keys() - new.keys():
        rs_id, ttl, recs = old[key]
        owner, code = wire.name_wire(key[0]), wire.type_code(key[1])
        removed += [wire.rr(owner, code, changes.effective_ttl(ttl, zone.ttl), rd) for rd in recs]
        gone_sets.append(rs_id)
    for key, (ttl, recs) in new.items():
        owner, code = wire.name_wire(key[0]), wire.type_code(key[1])
        if key not in old:
            fresh_sets.append(dict(name=key[0], type=key[1], ttl=ttl,
                                   records=[(text, rd) for rd, text in recs.items()]))
            added += [wire.rr(owner, code, ttl, rd) for rd in recs]
            continue
        rs_id, old_ttl, old_recs = old[key]
        old_eff = changes.effective_ttl(old_ttl, zone.ttl)
        if old_eff != ttl:
            removed += [wire.rr(owner, code, old_eff, rd) for rd in old_recs]
            added += [wire.rr(owner, code, ttl, rd) for rd in recs]
            await conn.execute(t.recordsets.update().where(t.recordsets.c.id == rs_id)
                               .values(ttl=ttl, updated_at=now))
        for rd, rec_id in old_recs.items():
            if rd not in recs:
                gone_records.append(rec_id)
                if old_eff == ttl:
                    removed.append(wire.rr(owner, code, ttl, rd))
        for rd, text in recs.items():
            if rd not in old_recs:
                fresh_records.append(dict(
                    id=changes.new_id(), recordset_id=rs_id, zone_id=zone.id, data=text, rdata=rd,
                    axfr_rr=wire.axfr_rr(wire.axfr_head(key[0], zone.name, key[1]), ttl, rd),
                    managed=False, status="PENDING", action="CREATE", serial=zone.serial,
                    version=1, created_at=now))
                if old_eff == ttl:
                    added.append(wire.rr(owner, code, ttl, rd))
    master_serial = int(soa_rd.serial)
    serial = master_serial if dns.serial.Serial(master_serial) > dns.serial.Serial(
        int(zone.serial)) else changes.next_serial(int(zone.serial))
    zone_values = dict(transferred_at=now, refresh=int(soa_rd.refresh), retry=int(soa_rd.retry),
                       expire=int(soa_rd.expire), minimum=int(soa_rd.minimum))
    changed = bool(removed or added)
    if not changed and master_serial == int(zone.serial):
        await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(**zone_values))
        return int(zone.serial)
    for chunk in _chunks(gone_records):
        await conn.execute(t.records.delete().where(t.records.c.id.in_(chunk)))
    for chunk in _chunks(gone_sets):
        await conn.execute(t.records.delete().where(t.records.c.recordset_id.in_(chunk)))
        await conn.execute(t.recordsets.delete().where(t.recordsets.c.id.in_(chunk)))
    if gone_sets:
        await conn.execute(t.zones.update().where(t.zones.c.id == zone.id).values(
            recordset_count=t.zones.c.recordset_count - len(gone_sets)))
    if fresh_records:
        await conn.execute(t.records.insert(), fresh_records)
    if fresh_sets:
        await insert_rrsets(conn, zone, zone.project_id, fresh_sets, now, serial=serial)
    incremental = len(removed) + len(added) <= JOURNAL_MAX_RRS
    await changes.commit_change(conn, zone, removed if incremental else [],
                                added if incremental else [], incremental=incremental,
                                zone_values=zone_values, retention=retention, serial=serial)
    return serial


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class LifecycleJobs:
    """The worker's non-propagation jobs: ``transfer`` (SECONDARY zones) and ``pool_move``
    (remove a moved zone from its old pool's targets)."""

    KINDS = ("transfer", "pool_move")

    def __init__(self, service: Service, settings: Settings, propagator: Propagator):
        self.transfers = SecondaryTransfers(service, settings)
        self.propagator = propagator

    async def run(self, job: Job) -> Outcome:
        if job.kind == "transfer":
            return await self.transfers.run(job)
        if job.kind == "pool_move":
            return await self._remove_from_old_pool(job)
        return Outcome(ok=True, active=True)

    async def _remove_from_old_pool(self, job: Job) -> Outcome:
        zone, old_pool = job.zone, job.payload.get("old_pool_id")
        if zone is None or not old_pool or old_pool == zone.pool_id:
            return Outcome(ok=True, active=True)
        got = await self.propagator.pools.get(str(old_pool))
        if got is None:
            return Outcome(ok=True, active=True)  # the old pool is gone, and its zones too
        _, backends = got
        ref = ZoneRef(zone.id, zone.name, zone.serial, str(old_pool))
        failed = await self.propagator._call_targets(backends, "delete", ref, False)
        return Outcome(ok=not failed, active=True, error="; ".join(failed))
