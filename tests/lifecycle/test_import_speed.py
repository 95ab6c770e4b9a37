"""The fast paths of zone imports give what the plain paths give (tokenizer fast path, worker
process parse with progress, index-ordered bulk insert), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import random
import uuid

import dns.exception
import dns.tokenizer
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from lifehelp import ALICE, import_zone

from dnsaas import parsepool, wire, zonefile
from dnsaas.context import Context
from dnsaas.records import parse_records
from dnsaas.service import Service
from dnsaas.service.bulk import BULK_MIN_ROWS, random_uuids
from dnsaas.storage import tables as t


def _tokenizer_entries(text: str) -> list[tuple[int, bool, list[tuple[str, bool]]]]:
    """Reference: every entry read by dns.tokenizer alone."""
    tok = dns.tokenizer.Tokenizer(io.StringIO(text))
    out = []
    while True:
        first = tok.get(want_leading=True)
        if first.is_eof():
            return out
        line = tok.line_number
        leading = first.is_whitespace()
        current = first if not leading else tok.get()
        tokens = []
        while not current.is_eol_or_eof():
            tokens.append((current.value, current.is_quoted_string()))
            current = tok.get()
        if tokens:
            out.append((line, leading, tokens))
        if current.is_eof():
            return out


def _random_line(rng: random.Random) -> str:
    pieces = ["www", "IN", "TXT", "300", '"a b"', '"x;y"', '""', '"é"', "a;comment",
              "; note", '"tab\there"', "10", "mail.example.", '"q"x', 'x"q"', '"a""b"']
    line = " ".join(rng.choice(pieces) for _ in range(rng.randrange(1, 6)))
    if rng.random() < 0.3:
        line = rng.choice([" ", "\t"]) + line
    if rng.random() < 0.1:
        line += rng.choice([" \\", ' "open', " (", " )", "\\065", "\r"])
    return line


def test_entries_fast_paths_match_the_tokenizer() -> None:
    rng = random.Random("entries")
    for _ in range(300):
        lines = [_random_line(rng) for _ in range(rng.randrange(1, 8))]
        text = "\n".join(lines) + "\n"
        try:
            expected: object = _tokenizer_entries(text)
        except dns.exception.DNSException as exc:
            expected = ("error", type(exc).__name__)
        try:
            got: object = list(zonefile._entries(text))
        except zonefile.ZoneFileError:
            got = ("error",)
        if isinstance(expected, tuple):
            assert got == ("error",), text
        else:
            # the line numbers of the reference are where each entry ended: compare the rest
            assert [(lead, toks) for _, lead, toks in got] == [  # type: ignore[union-attr]
                (lead, toks) for _, lead, toks in expected], text


def _big_zone(name: str, count: int) -> str:
    lines = [f"$ORIGIN {name}", "$TTL 3600",
             f"@ IN SOA ns1.{name} hostmaster.{name} 2024010101 3600 600 86400 3600",
             "@ IN NS ns1.example.net."]
    for i in range(count):
        lines.append(
            [f"H{i} 300 IN A 10.0.{i >> 8 & 255}.{i & 255}", f"h{i} IN AAAA 2001:db8::{i:x}",
             f't{i} IN TXT "v=spf1 -all" "n{i}"', f"m{i} IN MX 10 mail{i}", f"c{i} IN CNAME x{i}",
             f"_s{i}._tcp IN SRV 0 5 {i} srv.example.net."][i % 6])
        if i % 50 == 0:  # some multi-record recordsets, one on an omitted owner line
            lines.append(f"\tIN A 10.1.{i >> 8 & 255}.{i & 255}" if i % 6 == 0 else
                         f"multi IN A 10.2.{i >> 8 & 255}.{i & 255}")
    return "\n".join(lines) + "\n"


async def test_parse_in_worker_reports_progress_and_matches() -> None:
    text = _big_zone("worker.test.", 40_000)
    seen: list[int] = []

    async def progress(percent: int) -> None:
        seen.append(percent)
    parsed = await parsepool.parse_zone_async(text, on_progress=progress)
    local = zonefile.parse_zone(text)
    assert parsed == local
    assert seen == sorted(seen) and len(seen) >= 2 and all(0 <= p <= 100 for p in seen)
    bad = text.replace("mail3\n", "mail3 extra\n")
    with pytest.raises(zonefile.ZoneFileError) as caught:
        await parsepool.parse_zone_async(bad)
    with pytest.raises(zonefile.ZoneFileError) as expected:
        zonefile.parse_zone(bad)
    assert caught.value.message == expected.value.message and "Line " in caught.value.message


def test_parse_progress_is_monotonic() -> None:
    seen: list[int] = []
    zonefile.parse_zone(_big_zone("p.test.", 30_000), progress=seen.append)
    assert seen == sorted(seen) and seen[0] < 50 < seen[-1] <= 100


def test_random_uuids_are_sorted_unique_v4() -> None:
    ids = random_uuids(5000)
    assert ids == sorted(ids) and len(set(ids)) == 5000
    for value in ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122


async def _no_limits(service: Service, admin: Context) -> None:
    await service.set_quotas(admin, "project-alice", {
        "zone_records": -1, "zone_recordsets": -1, "recordset_records": -1})


async def test_bulk_import_rows(client: TestClient, service: Service, admin: Context) -> None:
    """Above BULK_MIN_ROWS the import takes the tuple/COPY path: same rows as the API makes."""
    await _no_limits(service, admin)
    count = 1800
    text = _big_zone("bulk.test.", count)
    task = await import_zone(client, service, text)
    assert task["status"] == "COMPLETE" and task["progress"] == 100, task
    parsed = zonefile.parse_zone(text)
    assert len(parsed.rrsets) + parsed.record_count >= BULK_MIN_ROWS
    zone_id = task["zone_id"]
    async with service.engine.connect() as conn:
        zone = (await conn.execute(sa.select(t.zones).where(t.zones.c.id == zone_id))).one()
        sets = (await conn.execute(sa.select(t.recordsets).where(
            t.recordsets.c.zone_id == zone_id))).all()
        recs = (await conn.execute(sa.select(t.records).where(
            t.records.c.zone_id == zone_id))).all()
        jobs = (await conn.execute(sa.select(t.jobs).where(t.jobs.c.zone_id == zone_id))).all()
    assert zone.recordset_count == len(sets) == len(parsed.rrsets) + 2  # + SOA and apex NS
    assert len(jobs) == 1 and jobs[0].kind == "propagate"
    ids = [r.id for r in sets] + [r.id for r in recs]
    assert len(set(ids)) == len(ids) and all(uuid.UUID(i).version == 4 for i in ids)
    by_id = {r.id: r for r in sets}
    for rs in sets:
        assert rs.status == "PENDING" and rs.action == "CREATE" and rs.serial == zone.serial
        assert rs.project_id == "project-alice" and rs.managed == (rs.type in ("SOA", "NS")
                                                                   and rs.name == "bulk.test.")
    stored: dict[tuple[str, str], set[tuple[str, bytes]]] = {}
    for rec in recs:
        rs = by_id[rec.recordset_id]
        assert rec.axfr_rr == wire.axfr_rr(wire.axfr_head(rs.name, zone.name, rs.type),
                                           zone.ttl if rs.ttl is None else rs.ttl, rec.rdata)
        stored.setdefault((rs.name, rs.type), set()).add((rec.data, bytes(rec.rdata)))
        assert rec.serial == zone.serial and rec.managed == rs.managed
    for rs in parsed.rrsets:
        expected = {(p.data, p.wire) for p in parse_records(rs.type, rs.name,
                                                            [d for d, _ in rs.records])}
        assert stored[(rs.name, rs.type)] == expected
        assert {s.name: s for s in sets if s.type == rs.type}[rs.name].ttl == rs.ttl
    assert ("multi.bulk.test.", "A") in stored and len(stored[("multi.bulk.test.", "A")]) > 10
    # the API reads them back
    resp = await client.get(f"/v2/zones/{zone_id}/recordsets?name=h0.bulk.test.", headers=ALICE)
    body = await resp.json()
    assert [r["records"] for r in body["recordsets"]] == [["10.0.0.0", "10.1.0.0"]]


async def test_big_file_with_a_bad_record_creates_nothing(client: TestClient, service: Service,
                                                          admin: Context) -> None:
    await _no_limits(service, admin)
    text = _big_zone("bad.test.", 3000) + "late IN A 10.0.0.256\n"
    task = await import_zone(client, service, text)
    assert task["status"] == "ERROR" and task["zone_id"] is None
    assert task["message"].startswith(f"Malformed zonefile. Line {text.count(chr(10))}:")
    async with service.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(t.records))
                ).scalar() == 0
