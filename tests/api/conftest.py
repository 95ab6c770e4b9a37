"""API fixtures: the real aiohttp app on a real loopback port, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from dnsaas.service import Service
from dnsaas.settings import Settings


@pytest.fixture
async def client(settings: Settings, service: Service) -> AsyncIterator[TestClient]:
    """A client of the API (noauth) served on 127.0.0.1 by aiohttp's real test server."""
    async with TestClient(TestServer(create_app(settings, service), host="127.0.0.1")) as c:
        yield c

