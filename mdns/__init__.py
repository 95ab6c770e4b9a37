"""mdns: the authoritative DNS server that feeds the pool's nameservers.

SOA and ordinary queries, AXFR and IXFR (from the change journal), NOTIFY in (SECONDARY zones)
and out (:mod:`mdns.notify`), TSIG, transfer ACLs and RFC 9432 catalog zones, all read from the
database. Protocol logic lives in :mod:`mdns.handler` (message in, messages out); sockets in
:mod:`mdns.server`::

    from mdns import MdnsServer
    async with MdnsServer(settings, engine) as srv:   # settings.mdns_port=0 → a free port
        ...  # srv.host, srv.port
"""

from __future__ import annotations

from typing import Any

__all__ = ["MdnsServer", "send_notify"]


def __getattr__(name: str) -> Any:
    if name == "MdnsServer":
        from mdns.server import MdnsServer
        return MdnsServer
    if name == "send_notify":
        from mdns.notify import send_notify
        return send_notify
    raise AttributeError(name)
