"""Failures with a real BIND: a nameserver that is down sends the zone to ERROR, and the zone
becomes ACTIVE by itself once the nameserver is back; a lagging nameserver below the threshold
is repaired after the zone went ACTIVE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from propagation_kit import adig, apply_yaml, eventually, mdns_server, pool_yaml, worker

from dnsaas.context import Context
from dnsaas.service import Service
from dnsaas.settings import Settings
from dnsaas.testing.peers import BindServer
from dnsaas.testing.ports import free_port
from dnsaas.testing.require import need

pytestmark = pytest.mark.peers


@pytest.fixture
def mdns_port() -> int:
    return free_port()


@pytest.fixture
def bind(mdns_port: int) -> Iterator[BindServer]:
    need(BindServer.available(), "BIND binaries")
    server = BindServer(primary=("127.0.0.1", mdns_port)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bind2(mdns_port: int) -> Iterator[BindServer]:
    need(BindServer.available(), "BIND binaries")
    server = BindServer(primary=("127.0.0.1", mdns_port)).start()
    try:
        yield server
    finally:
        server.stop()


def fast(settings: Settings) -> Settings:
    return settings.model_copy(update=dict(worker_retry_budget=3, worker_poll_timeout=1.0,
                                           recovery_interval=0.5))


async def test_nameserver_down_error_then_active(bind: BindServer, mdns_port: int,
                                                 service: Service, settings: Settings,
                                                 alice: Context) -> None:
    s = fast(settings)
    await apply_yaml(service, pool_yaml([bind], mdns_port))
    async with mdns_server(service, s, mdns_port), worker(service, s, retry_base=0.05):
        bind._terminate()  # down: rndc and DNS both fail
        zone = await service.create_zone(alice, {"name": "down.example.com.",
                                                 "email": "a@example.com"})

        async def status(want: str) -> bool:
            return (await service.get_zone(alice, zone["id"]))["status"] == want
        await eventually(lambda: status("ERROR"), 20, "zone ERROR while BIND is down")
        bind.restart()
        await eventually(lambda: status("ACTIVE"), 20, "zone ACTIVE once BIND is back")
        got, answers = await adig(bind, "down.example.com.", "SOA")
        assert got == "NOERROR" and str(zone["serial"]) in answers[0]


async def test_lagging_nameserver_repaired_after_active(bind: BindServer, bind2: BindServer,
                                                        mdns_port: int, service: Service,
                                                        settings: Settings,
                                                        alice: Context) -> None:
    """threshold 50 %: one of two servers is enough for ACTIVE; the other one still gets the
    zone when it comes back (Designate bug 1617454)."""
    s = fast(settings)
    await apply_yaml(service, pool_yaml([bind, bind2], mdns_port, threshold=50))
    async with mdns_server(service, s, mdns_port), worker(service, s, retry_base=0.05):
        bind2._terminate()
        zone = await service.create_zone(alice, {"name": "lag.example.com.",
                                                 "email": "a@example.com"})

        async def active() -> bool:
            return (await service.get_zone(alice, zone["id"]))["status"] == "ACTIVE"
        await eventually(active, 15, "ACTIVE with one of two servers")
        assert (await adig(bind, "lag.example.com.", "SOA"))[0] == "NOERROR"
        bind2.restart()

        async def repaired() -> bool:
            return (await adig(bind2, "lag.example.com.", "SOA"))[0] == "NOERROR"
        await eventually(repaired, 20, "lagging server repaired")
