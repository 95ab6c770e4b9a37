"""The backend contract: entry-point registry, typed options, and idempotent create/delete
against real BIND, Knot and PowerDNS control channels."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backends.base import Backend, BackendError, Target, ZoneRef, backend_class, backend_types
from backends.bind9 import Bind9Backend
from backends.knot import KnotBackend
from backends.pdns import PowerDNSBackend
from dnsaas.testing.peers import BindServer, KnotServer, PowerDNSServer
from dnsaas.testing.require import need

ZONE = ZoneRef("00000000-0000-0000-0000-0000000000aa", "b.example.test.", 1, "pool")


def test_registry_lists_every_driver() -> None:
    assert {"fake", "bind9", "pdns", "knot", "catalog"} <= set(backend_types())
    for name in ("fake", "bind9", "pdns", "knot", "catalog"):
        cls = backend_class(name)
        assert issubclass(cls, Backend) and cls.name == name
    with pytest.raises(KeyError):
        backend_class("nope")


def test_options_are_typed_and_strict() -> None:
    with pytest.raises(ValidationError):
        Bind9Backend.Options.model_validate({"rndc_port": "not a port"})
    with pytest.raises(ValidationError):
        KnotBackend.Options.model_validate({"sokcet": "/x"})
    assert PowerDNSBackend.Options.model_validate({"api_token": "k"}).server_id == "localhost"


def _target(kind: str, options: dict[str, object], port: int = 5354) -> Target:
    return Target(id="t1", pool_id="pool", type=kind, masters=(("127.0.0.1", port),),
                  options=options)


async def _idempotent(backend: Backend) -> None:
    async with backend:
        assert await backend.health()
        await backend.create_zone(ZONE)
        await backend.create_zone(ZONE)  # exists already: fine
        await backend.delete_zone(ZONE)
        await backend.delete_zone(ZONE)  # gone already: fine


async def test_bind9_idempotent() -> None:
    need(BindServer.available(), "BIND binaries")
    with BindServer() as bind:
        b = Bind9Backend(_target("bind9", {"rndc_port": bind.rndc_port,
                                           "rndc_config_file": str(bind.rndc_conf)}))
        await _idempotent(b)
        assert "b.example.test" not in bind.rndc("zonestatus", "b.example.test").stdout


async def test_bind9_down_is_an_error_not_a_hang() -> None:
    b = Bind9Backend(_target("bind9", {"rndc_port": 1, "timeout": 2}))
    with pytest.raises(BackendError):
        await b.create_zone(ZONE)
    assert not await b.health()


async def test_knot_idempotent() -> None:
    need(KnotServer.available(), "Knot binaries")
    with KnotServer(primary=("127.0.0.1", 5354)) as knot:
        await _idempotent(KnotBackend(_target("knot", {"socket": str(knot.socket)})))
        assert knot.knotc("conf-read", "zone[b.example.test.]").returncode != 0


async def test_pdns_idempotent() -> None:
    need(PowerDNSServer.available(), "PowerDNS binaries")
    with PowerDNSServer() as pdns:
        b = PowerDNSBackend(_target("pdns", {"api_endpoint": f"http://127.0.0.1:{pdns.api_port}",
                                             "api_token": pdns.api_key}))
        await _idempotent(b)
        status, _ = pdns.api("GET", "/zones/b.example.test.", check=False)
        assert status == 404
        async with b:  # zones are made to take changes by IXFR
            await b.create_zone(ZONE)
            status, meta = pdns.api("GET", "/zones/b.example.test./metadata/IXFR", check=False)
            assert status == 200 and meta["metadata"] == ["1"], meta
            await b.delete_zone(ZONE)


async def test_pdns_wrong_key_is_an_error() -> None:
    need(PowerDNSServer.available(), "PowerDNS binaries")
    with PowerDNSServer() as pdns:
        b = PowerDNSBackend(_target("pdns", {"api_endpoint": f"http://127.0.0.1:{pdns.api_port}",
                                             "api_token": "wrong"}))
        async with b:
            with pytest.raises(BackendError):
                await b.create_zone(ZONE)
