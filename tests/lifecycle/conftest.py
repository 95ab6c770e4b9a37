"""Lifecycle fixtures: the real API app on a loopback port (noauth), SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from dnsaas.service import Service
from dnsaas.settings import Settings


@pytest.fixture
async def client(settings: Settings, service: Service) -> AsyncIterator[TestClient]:
    """A client of the API served on 127.0.0.1 by aiohttp's real test server."""
    async with TestClient(TestServer(create_app(settings, service), host="127.0.0.1")) as c:
        yield c
    await service.wait_background()
