"""Skip-or-fail for tests that need a real component (a peer binary, PostgreSQL)."""

from __future__ import annotations

import os

import pytest


def peers_required() -> bool:
    """True in CI (``DNSAAS_REQUIRE_PEERS=1``): a missing component is a failure."""
    return os.environ.get("DNSAAS_REQUIRE_PEERS") == "1"


def need(condition: bool, what: str) -> None:
    """Skip when ``what`` is missing locally; fail in CI (DNSAAS_REQUIRE_PEERS=1)."""
    if not condition:
        if peers_required():
            pytest.fail(f"{what} is required in CI but unavailable")
        pytest.skip(f"{what} unavailable")
