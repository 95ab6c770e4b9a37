"""Helpers for the propagation tests: pools.yaml for a real peer, an in-process mdns + worker
stack, and ``dig``."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa

from dnsaas.pools import apply_pools, load_pools_yaml
from dnsaas.service import Service
from dnsaas.settings import DEFAULT_POOL_ID, Settings
from dnsaas.testing.peers import BindServer, KnotServer, PowerDNSServer
from mdns.server import MdnsServer
from workers.worker import Worker

Peer = BindServer | KnotServer | PowerDNSServer
CATALOG = "catalog.dnsaas.invalid."


def target_for(peer: Peer, mdns_port: int | list[int], *, catalog: bool = False) -> str:
    """The ``targets`` entry of pools.yaml that drives ``peer`` (or the catalog target)."""
    ports = mdns_port if isinstance(mdns_port, list) else [mdns_port]
    masters = "[" + ", ".join(f"{{host: 127.0.0.1, port: {p}}}" for p in ports) + "]"
    if catalog:
        kind, opts = "catalog", {}
    elif isinstance(peer, BindServer):
        kind, opts = "bind9", {"rndc_host": "127.0.0.1", "rndc_port": peer.rndc_port,
                               "rndc_config_file": str(peer.rndc_conf)}
    elif isinstance(peer, KnotServer):
        kind, opts = "knot", {"socket": str(peer.socket), "template": "secondary"}
    else:
        kind, opts = "pdns", {"api_endpoint": f"http://127.0.0.1:{peer.api_port}",
                              "api_token": peer.api_key}
    opts = {"host": "127.0.0.1", "port": peer.port, "timeout": 5, **opts}
    opt_text = ", ".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}"
                         for k, v in opts.items())
    return f"""    - type: {kind}
      masters: {masters}
      options: {{{opt_text}}}
"""


def pool_yaml(peers: list[Peer], mdns_port: int | list[int], *, catalog: bool = False,
              threshold: int | None = None, extra_targets: str = "") -> str:
    """pools.yaml for the default pool served by ``peers``."""
    attrs = f"{{threshold_percentage: {threshold}}}" if threshold is not None else "{}"
    nameservers = "".join(f"    - {{host: 127.0.0.1, port: {p.port}}}\n" for p in peers)
    if catalog:
        targets = target_for(peers[0], mdns_port, catalog=True)
    else:
        targets = "".join(target_for(p, mdns_port) for p in peers)
    targets += extra_targets
    cat = f"  catalog_zone: {{catalog_zone_fqdn: {CATALOG}}}\n" if catalog else ""
    return f"""- name: default
  id: {DEFAULT_POOL_ID}
  attributes: {attrs}
  ns_records:
    - {{hostname: ns1.example.com., priority: 1}}
  nameservers:
{nameservers}  targets:
{targets}{cat}"""


async def apply_yaml(service: Service, text: str) -> None:
    pools = load_pools_yaml(text)

    async def run(conn: sa.ext.asyncio.AsyncConnection) -> None:
        await apply_pools(conn, pools)
    await service.tx(run)


@asynccontextmanager
async def mdns_server(service: Service, settings: Settings, port: int = 0
                      ) -> AsyncIterator[MdnsServer]:
    async with MdnsServer(settings, service.engine, host="127.0.0.1", port=port) as srv:
        yield srv


@asynccontextmanager
async def worker(service: Service, settings: Settings, **kw: Any) -> AsyncIterator[Worker]:
    async with Worker(service, settings, retry_base=kw.pop("retry_base", 0.05), **kw) as w:
        yield w


def dig(peer: Peer, name: str, rdtype: str = "SOA") -> tuple[str, list[str]]:
    """``dig`` at the peer: (status, answer lines as 'type data')."""
    out = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(peer.port), "+norec", "+time=1", "+tries=1",
         "+noall", "+comments", "+answer", name, rdtype],
        capture_output=True, text=True, timeout=10).stdout
    status = "TIMEOUT"
    answers = []
    for line in out.splitlines():
        if "status:" in line:
            status = line.split("status:")[1].split(",")[0].strip()
        elif line and not line.startswith(";"):
            parts = line.split(None, 4)
            if len(parts) == 5:
                answers.append(f"{parts[3]} {parts[4]}")
    return status, answers


async def eventually(pred: Callable[[], Any], limit: float = 10.0, what: str = "") -> Any:
    """Poll ``pred`` (sync or async) every 10 ms until truthy."""
    deadline = time.monotonic() + limit
    while True:
        got = pred()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {limit} s: {what}")
        await asyncio.sleep(0.01)


async def adig(peer: Peer, name: str, rdtype: str = "SOA") -> tuple[str, list[str]]:
    return await asyncio.to_thread(dig, peer, name, rdtype)
