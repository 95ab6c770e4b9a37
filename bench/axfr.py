"""AXFR benchmark: mdns (separate ``dnsaas mdns`` process on PostgreSQL) against BIND and Knot.

``python -m bench.axfr [--quick] [--records N] [--runs 3]`` (``make bench-axfr``).

Builds one zone of N records (40% A, 20% AAAA, 20% TXT, 20% MX; 1,000,000 by default,
100,000 with ``--quick``), bulk-loads it into a fresh dnsaas PostgreSQL database (the zone is
created through the service layer, its records COPYed straight into the tables with wire
rdata computed once) and writes the same zone as a zone file that BIND 9 and Knot serve as
primaries. Every server is timed with the same lean reader (length-prefixed messages, ANCOUNT
summed from the headers, nothing parsed), median of ``--runs``:

- BIND and Knot: full AXFR.
- mdns cold: the first AXFR after a one-record change (rendered from the database).
- mdns warm: the next AXFRs (from the rendered-transfer cache).
- mdns IXFR: the incremental transfer of a one-record change, first and repeated (cached).
- mdns peak RSS (VmHWM).

All servers run side by side and each round times every one of them back to back, so the
ratios compare servers under the same machine load (medians of the rounds, and the median of
the per-round ratios).

Prints a table and writes ``bench/results/axfr.json`` (``axfr-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import dns.message
import dns.rrset

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.service.changes import utcnow
from dnsaas.settings import QuotaDefaults, Settings
from dnsaas.storage import bootstrap, db
from dnsaas.storage import tables as t
from dnsaas.testing.databases import drop_database, recreate_database
from dnsaas.testing.peers import BindServer, KnotServer, find_binary
from dnsaas.testing.ports import free_port
from dnsaas.wire import axfr_head, axfr_rr, name_wire

ZONE = "bench.test."
RESULTS = Path(__file__).parent / "results" / "axfr.json"


# --- the zone -------------------------------------------------------------------------------
def records(n: int) -> list[tuple[str, str, str, bytes]]:
    """(name, type, text, wire rdata) of the benchmark zone, deterministic."""
    out = []
    mx_wire = {k: name_wire(f"mx{k}.{ZONE}") for k in range(10)}
    for i in range(n):
        kind = i % 5
        name = f"host{i}.{ZONE}"
        if kind in (0, 1):
            raw = struct.pack("!I", 0x0A000000 + i)
            out.append((name, "A", str(ipaddress.IPv4Address(raw)), raw))
        elif kind == 2:
            raw = b"\x20\x01\x0d\xb8" + struct.pack("!QI", 0, i)
            out.append((name, "AAAA", str(ipaddress.IPv6Address(raw)), raw))
        elif kind == 3:
            text = f"v=bench{i} some text"
            out.append((name, "TXT", f'"{text}"', bytes([len(text)]) + text.encode()))
        else:
            k = i % 10
            out.append((name, "MX", f"10 mx{k}.{ZONE}", struct.pack("!H", 10) + mx_wire[k]))
    return out


def write_zone_file(path: Path, recs: list[tuple[str, str, str, bytes]], serial: int) -> None:
    with path.open("w") as f:
        f.write(f"$ORIGIN {ZONE}\n$TTL 3600\n")
        f.write(f"@ 3600 IN SOA ns1.{ZONE} hostmaster.{ZONE} {serial} 3600 600 86400 3600\n")
        f.write(f"@ 3600 IN NS ns1.{ZONE}\n")
        f.write("ns1 3600 IN A 10.255.255.1\n")
        for name, rtype, text, _ in recs:
            f.write(f"{name} 3600 IN {rtype} {text}\n")


async def load_dnsaas(url: str, recs: list[tuple[str, str, str, bytes]]) -> tuple[Service, dict[str, Any]]:
    settings = Settings(database_url=url, default_ns_hostname=f"ns1.{ZONE}",
                        quotas=QuotaDefaults(zones=-1, zone_recordsets=-1, zone_records=-1,
                                             recordset_records=-1))
    engine = db.create_engine(url)
    await bootstrap.prepare(engine, settings, auto_migrate=True)
    svc = Service(engine, settings)
    ctx = Context(project_id="bench", roles=frozenset({"admin"}))
    zone = await svc.create_zone(ctx, {"name": ZONE, "email": f"hostmaster@{ZONE}", "ttl": 3600})
    await svc.create_recordset(ctx, zone["id"], {"name": f"ns1.{ZONE}", "type": "A",
                                                 "records": ["10.255.255.1"]})
    now = utcnow()
    serial = (await svc.get_zone(ctx, zone["id"]))["serial"]
    rs_rows, rec_rows = [], []
    for name, rtype, text, raw in recs:
        rs_id = str(uuid.uuid4())
        rr = axfr_rr(axfr_head(name, ZONE, rtype), 3600, raw)  # what insert_rrsets stores
        rs_rows.append((rs_id, zone["id"], "bench", name, rtype, None, False, "ACTIVE", "NONE",
                        serial, 1, now))
        rec_rows.append((str(uuid.uuid4()), rs_id, zone["id"], text, raw, rr, False, "ACTIVE",
                         "NONE", serial, 1, now))
    async with engine.connect() as conn:
        raw_conn = await conn.get_raw_connection()
        pg = raw_conn.driver_connection
        assert pg is not None
        await pg.copy_records_to_table("recordsets", records=rs_rows, columns=[
            "id", "zone_id", "project_id", "name", "type", "ttl", "managed", "status", "action",
            "serial", "version", "created_at"], timeout=1200)
        await pg.copy_records_to_table("records", records=rec_rows, columns=[
            "id", "recordset_id", "zone_id", "data", "rdata", "axfr_rr", "managed", "status",
            "action", "serial", "version", "created_at"], timeout=1200)
        if "recordset_count" in t.zones.c:
            await pg.execute("UPDATE zones SET recordset_count = recordset_count + $1 WHERE id = $2",
                             len(rs_rows), zone["id"])
        await pg.execute("ANALYZE", timeout=600)
    return svc, zone


# --- the lean reader --------------------------------------------------------------------------
def _read_exact(s: socket.socket, n: int, buf: bytearray) -> bytes:
    while len(buf) < n:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    out = bytes(buf[:n])
    del buf[:n]
    return out


def lean_transfer(port: int, wire: bytes, expect: int | None, timeout: float = 120.0
                  ) -> tuple[float, int, int]:
    """Send ``wire`` over TCP; read until ``expect`` RRs (or one message when None).

    Returns (seconds, RRs counted from ANCOUNT, messages)."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.sendall(struct.pack("!H", len(wire)) + wire)
        buf = bytearray()
        total = msgs = 0
        while True:
            (length,) = struct.unpack("!H", _read_exact(s, 2, buf))
            msg = _read_exact(s, length, buf)
            msgs += 1
            rcode = msg[3] & 0xF
            if rcode:
                raise RuntimeError(f"rcode {rcode}")
            total += struct.unpack_from("!H", msg, 6)[0]
            if expect is None or total >= expect:
                break
    return time.perf_counter() - t0, total, msgs


def axfr_query() -> bytes:
    return dns.message.make_query(ZONE, "AXFR").to_wire()


def ixfr_query(serial: int) -> bytes:
    q = dns.message.make_query(ZONE, "IXFR")
    q.authority.append(dns.rrset.from_text(ZONE, 0, "IN", "SOA", f". . {serial} 0 0 0 0"))
    return q.to_wire()


def soa_serial(port: int) -> int | None:
    try:
        import dns.query
        r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=port, timeout=1)
        return int(r.answer[0][0].serial) if r.answer else None
    except Exception:
        return None


def wait_soa(port: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        serial = soa_serial(port)
        if serial is not None:
            return serial
        time.sleep(0.05)
    raise RuntimeError(f"no SOA from port {port} after {timeout}s")


def median_of(runs: int, fn: Any) -> tuple[float, int, int]:
    results = [fn() for _ in range(runs)]
    secs = statistics.median(r[0] for r in results)
    return secs, results[0][1], results[0][2]


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# --- main -------------------------------------------------------------------------------------
def _start_peers(stack: contextlib.ExitStack, zone_file: Path) -> dict[str, Any]:
    """BIND and Knot serving ``zone_file`` as primaries (the ones installed), keyed by label."""
    peers: dict[str, Any] = {}
    for label, cls, binary in (("bind", BindServer, "named"), ("knot", KnotServer, "knotd")):
        if find_binary(binary) is None:
            print(f"{label}: {binary} not installed, skipped", flush=True)
            continue
        t0 = time.perf_counter()
        server = stack.enter_context(cls(primary_zones={ZONE: zone_file}, start_timeout=120))
        wait_soa(server.port, 300)
        peers[label] = {"server": server, "load_s": round(time.perf_counter() - t0, 2)}
        print(f"{label} loaded the zone file in {peers[label]['load_s']} s", flush=True)
    return peers


async def run(n: int, runs: int) -> dict[str, Any]:
    """Load the zone everywhere, then time ``runs`` rounds; every round measures every server
    back to back (mdns IXFR, cold and warm AXFR, then BIND and Knot), so that on a shared,
    noisy machine the servers are compared under the same load."""
    recs = records(n)
    expect = n + 2 + 2  # SOA twice, apex NS, ns1 A
    work = Path(tempfile.mkdtemp(prefix="bench-axfr-"))
    zone_file = work / "bench.test.zone"
    write_zone_file(zone_file, recs, 1)
    name = f"dnsaas_bench_axfr_{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {"records": n, "rrs_per_axfr": expect, "runs": runs}
    mdns_proc: subprocess.Popen[bytes] | None = None
    svc: Service | None = None
    with contextlib.ExitStack() as stack:
        peers = _start_peers(stack, zone_file)
        url = await recreate_database(name)
        try:
            t0 = time.perf_counter()
            svc, zone = await load_dnsaas(url, recs)
            out["dnsaas_load_s"] = round(time.perf_counter() - t0, 2)
            print(f"loaded {n} records into PostgreSQL in {out['dnsaas_load_s']} s", flush=True)
            port = free_port()
            env = dict(os.environ, DNSAAS_DATABASE_URL=url)
            mdns_proc = subprocess.Popen(  # noqa: ASYNC220 (a long-lived server, not awaited)
                [sys.executable, "-m", "dnsaas.cli", "--log-level", "WARNING", "mdns",
                 "--host", "127.0.0.1", "--port", str(port)], env=env,
                stdout=subprocess.DEVNULL)
            wait_soa(port, 30)
            ctx = Context(project_id="bench", roles=frozenset({"admin"}))
            changes = 0
            rounds: list[dict[str, float]] = []
            msgs: dict[str, int] = {}
            for i in range(runs):
                before = (await svc.get_zone(ctx, zone["id"]))["serial"]
                changes += 1
                await svc.create_recordset(ctx, zone["id"], {
                    "name": f"change{changes}.{ZONE}", "type": "A", "records": ["192.0.2.7"]})
                want = expect + changes
                r: dict[str, float] = {}
                # IXFR of the one-record change: first (journal query), then again (cached)
                r["ixfr_ms"] = (await asyncio.to_thread(
                    lean_transfer, port, ixfr_query(before), None))[0] * 1000
                r["ixfr_repeat_ms"] = (await asyncio.to_thread(
                    lean_transfer, port, ixfr_query(before), None))[0] * 1000
                # cold: the first AXFR after the change (IXFRs do not fill the AXFR cache)
                r["cold_s"], _, msgs["mdns"] = await asyncio.to_thread(
                    lean_transfer, port, axfr_query(), want)
                r["warm_s"] = (await asyncio.to_thread(lean_transfer, port, axfr_query(), want))[0]
                for label, peer in peers.items():
                    r[label], _, msgs[label] = await asyncio.to_thread(
                        lean_transfer, peer["server"].port, axfr_query(), expect)
                rounds.append(r)
                print(f"round {i + 1}: " + ", ".join(
                    f"{k} {v:.2f} ms" if k.endswith("_ms") else f"{k} {v:.3f} s"
                    for k, v in r.items()), flush=True)
            med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
            out["mdns"] = {
                "cold_s": med["cold_s"], "warm_s": med["warm_s"], "messages": msgs["mdns"],
                "ixfr_ms": med["ixfr_ms"], "ixfr_repeat_ms": med["ixfr_repeat_ms"],
                "peak_rss_mib": round(peak_rss_kib(mdns_proc.pid) / 1024, 1),
            }
            for label, peer in peers.items():
                out[label] = {"axfr_s": med[label], "messages": msgs[label], "load_s": peer["load_s"],
                              # the ratio within each round, then the median: robust to drift
                              "paired_ratio_cold": round(statistics.median(
                                  r[label] / r["cold_s"] for r in rounds), 2),
                              "paired_ratio_warm": round(statistics.median(
                                  r[label] / r["warm_s"] for r in rounds), 2)}
            out["rounds"] = rounds
        finally:
            if mdns_proc is not None:
                mdns_proc.terminate()
                mdns_proc.wait(10)
            if svc is not None:
                await svc.engine.dispose()
            await drop_database(name)
    for label in ("bind", "knot"):
        out.setdefault(label, None)
    return out


def report(res: dict[str, Any]) -> str:
    """The result table (medians) and the mdns/BIND, mdns/Knot speed ratios of the same run."""
    m = res["mdns"]
    rows = [("server", "AXFR s", "records/s", "messages")]
    rate = lambda s: f"{res['rrs_per_axfr'] / s:,.0f}"  # noqa: E731
    rows.append(("mdns cold", f"{m['cold_s']:.3f}", rate(m["cold_s"]), str(m["messages"])))
    rows.append(("mdns warm", f"{m['warm_s']:.3f}", rate(m["warm_s"]), str(m["messages"])))
    for label in ("bind", "knot"):
        if res.get(label):
            r = res[label]
            rows.append((label, f"{r['axfr_s']:.3f}", rate(r["axfr_s"]), str(r["messages"])))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    extra = [f"IXFR of a one-record change: {m['ixfr_ms']:.2f} ms "
             f"(repeated, from the cache: {m['ixfr_repeat_ms']:.2f} ms)",
             f"mdns peak RSS: {m['peak_rss_mib']} MiB"]
    for label in ("bind", "knot"):
        if res.get(label):
            res[f"ratio_warm_vs_{label}"] = round(res[label]["axfr_s"] / m["warm_s"], 2)
            res[f"ratio_cold_vs_{label}"] = round(res[label]["axfr_s"] / m["cold_s"], 2)
            extra.append(f"mdns/{label} speed (medians): warm {res[f'ratio_warm_vs_{label}']}x, "
                         f"cold {res[f'ratio_cold_vs_{label}']}x; per-round median: warm "
                         f"{res[label]['paired_ratio_warm']}x, cold {res[label]['paired_ratio_cold']}x")
    return "\n".join(lines + [""] + extra)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="100,000 records instead of 1,000,000")
    p.add_argument("--records", type=int, help="number of records")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    n = args.records or (100_000 if args.quick else 1_000_000)
    random.seed(1)
    res = asyncio.run(run(n, args.runs))
    text = report(res)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    res["mode"] = "quick" if args.quick else "full"
    out = RESULTS.with_name("axfr-quick.json") if args.quick else RESULTS
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
