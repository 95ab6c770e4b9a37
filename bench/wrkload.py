"""A bounded load run with ``wrk`` (Debian package ``wrk``) in its own process: ``concurrency``
connections, one wrk thread each (so "client i" is thread i, with its own path and, for creates,
its own zone), ``total`` responses in all, then stop.

wrk itself runs for a duration; each thread stops after its share of the responses and prints a
``BENCH-DONE`` line (with CLOCK_MONOTONIC times of its first request and last response), and
this module sends wrk SIGINT once every thread is done. Status codes outside 2xx are counted per
thread; socket errors and latency percentiles come from wrk's own summary.
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LUA = r"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_ts;
           int clock_gettime(int, bench_ts *); ]]
local ts = ffi.new("bench_ts")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC, Python's time.monotonic()
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local method, tag = "@METHOD@", "@TAG@"
local paths = {@PATHS@}
local zones = {@ZONES@}
local quotas = {@QUOTAS@}
wrk.headers["X-Auth-Token"] = "@TOKEN@"
wrk.headers["Content-Type"] = "application/json"

local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end

local static_req, path, zone, quota
local started, seen, bad, n = nil, 0, 0, 0

function init(args)
  path, zone, quota = paths[id], zones[id], quotas[id]
  if zone == "" then static_req = wrk.format(method, path) end
end

function request()
  if started == nil then started = now() end
  if static_req then return static_req end
  n = n + 1
  return wrk.format(method, path, nil, string.format(
    '{"name":"r%s-%d-%d.%s","type":"A","records":["192.0.2.1"]}', tag, id, n, zone))
end

function response(status, headers, body)
  seen = seen + 1
  if status < 200 or status > 299 then bad = bad + 1 end
  if seen == quota then
    io.write(string.format("BENCH-DONE %d %.6f %.6f %d %d\n", id, started, now(), seen, bad))
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH-SUMMARY {"requests":%d,"socket_errors":%d,"p50_us":%d,' ..
    '"p99_us":%d}\n', summary.requests, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
  io.flush()
end
"""


@dataclass
class WrkResult:
    """What one run measured."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    generator_cpu_s: float


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_strings(values: list[str]) -> str:
    return ", ".join(json.dumps(v) for v in values)  # JSON strings are valid Lua strings here


def script(method: str, paths: list[str], zones: list[str], token: str, tag: str,
           quotas: list[int]) -> str:
    """The Lua script: client i requests ``paths[i]``; a non-empty ``zones[i]`` makes each of
    its requests a recordset create with a new name in that zone."""
    return (LUA.replace("@METHOD@", method).replace("@TAG@", tag).replace("@TOKEN@", token)
            .replace("@PATHS@", _lua_strings(paths)).replace("@ZONES@", _lua_strings(zones))
            .replace("@QUOTAS@", ", ".join(map(str, quotas))))


async def run(base: str, method: str, paths: list[str], zones: list[str], token: str,
              total: int, tag: str) -> WrkResult:
    """``total`` requests over ``len(paths)`` connections; see the module docstring."""
    concurrency = len(paths)
    quotas = [total // concurrency + (1 if i < total % concurrency else 0)
              for i in range(concurrency)]
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        lua = Path(tmp) / "load.lua"
        lua.write_text(script(method, paths, zones, token, tag, quotas))
        cpu0, spawned = _children_cpu(), time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            "wrk", "-t", str(concurrency), "-c", str(concurrency), "-d", f"{max(60, total // 20)}s",
            "--timeout", "30s", "-s", str(lua), base, stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        done: list[tuple[float, float, int, int]] = []
        summary: dict[str, int] = {}
        signalled = False
        async for raw in proc.stdout:
            line = raw.decode().strip()
            if line.startswith("BENCH-DONE "):
                _, _, t0, t1, seen, bad = line.split()
                done.append((float(t0), float(t1), int(seen), int(bad)))
                if len(done) == concurrency and not signalled:
                    proc.send_signal(signal.SIGINT)
                    signalled = True
            elif line.startswith("BENCH-SUMMARY "):
                summary = json.loads(line.split(" ", 1)[1])
        await proc.wait()
        cpu = _children_cpu() - cpu0
    if not summary:
        raise RuntimeError(f"wrk exited with {proc.returncode} and no summary")
    if len(done) == concurrency:
        seconds = max(d[1] for d in done) - min(d[0] for d in done)
    else:  # some thread never got its share (the server failed): wrk ran its whole duration
        seconds = time.monotonic() - spawned
    missing = total - sum(d[2] for d in done)  # never answered: errors too
    errors = sum(d[3] for d in done) + summary["socket_errors"] + max(0, missing)
    return WrkResult(summary["requests"], errors, seconds, summary["p50_us"] / 1000,
                     summary["p99_us"] / 1000, cpu)


def _children_cpu() -> float:
    """User + system CPU of this process's waited-for children (wrk runs are waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
