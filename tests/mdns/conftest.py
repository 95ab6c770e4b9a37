"""Fixtures for mdns tests: a real server on a free loopback port over the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from dnsaas.context import Context
from dnsaas.service import Service
from mdns.server import MdnsServer


@pytest.fixture
async def mdns(service: Service) -> AsyncIterator[MdnsServer]:
    """mdns on 127.0.0.1 and a free port, over the same database as ``service``."""
    async with MdnsServer(service.settings, service.engine, host="127.0.0.1", port=0) as srv:
        yield srv


@pytest.fixture
async def zone(service: Service, admin: Context) -> dict[str, Any]:
    """example.test. with a few records of every answer kind."""
    z = await service.create_zone(admin, {"name": "example.test.", "email": "h@example.test"})
    for name, rtype, records, ttl in [
        ("www.example.test.", "A", ["192.0.2.1", "192.0.2.2"], None),
        ("www.example.test.", "AAAA", ["2001:db8::1"], 0),
        ("alias.example.test.", "CNAME", ["www.example.test."], 300),
        ("outside.example.test.", "CNAME", ["www.elsewhere.test."], None),
        ("*.wild.example.test.", "TXT", ['"wildcard"'], None),
        ("a.b.ent.example.test.", "A", ["192.0.2.9"], None),
        ("sub.example.test.", "NS", ["ns1.sub.example.test.", "ns.other.test."], None),
        ("ns1.sub.example.test.", "A", ["192.0.2.53"], None),
        ("mail.example.test.", "MX", ["10 www.example.test."], None),
    ]:
        values: dict[str, Any] = {"name": name, "type": rtype, "records": records}
        if ttl is not None:
            values["ttl"] = ttl
        await service.create_recordset(admin, z["id"], values)
    return await service.get_zone(admin, z["id"])
