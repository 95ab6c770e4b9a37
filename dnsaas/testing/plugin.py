"""pytest plugin ``dnsaas``: a real dnsaas stack for downstream tests, started on demand.

Installed with dnsaas (entry point ``pytest11: dnsaas``). Nothing starts unless a test asks for
the ``dnsaas_stack`` fixture; then one stack per session is started through the harness (API,
mdns, worker and a real secondary nameserver on free loopback ports, see :mod:`dnsaas.harness`)
and stopped at the end of the session, failures included::

    def test_my_automation(dnsaas_stack):
        zone = dnsaas_stack.create_zone("example.org.")
        dnsaas_stack.create_recordset(zone, "www", "A", ["192.0.2.1"], wait=True)
        assert dnsaas_stack.resolve("www.example.org.", "A") == ["192.0.2.1"]

Options: ``--dnsaas-secondary bind9|knot|pdns|none`` (ini ``dnsaas_secondary``, default bind9)
and ``--dnsaas-postgres URL`` (ini ``dnsaas_postgres``; default: embedded SQLite). The fixture
skips if the secondary is not installed (fails instead when ``DNSAAS_REQUIRE_PEERS=1``).

This module is imported by every pytest run in an environment with dnsaas installed, so it
imports nothing heavy at module level.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dnsaas.client import Client
    from dnsaas.harness import StackInfo

__all__ = ["DnsaasStack", "dnsaas_stack"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dnsaas", "dnsaas stack (fixture dnsaas_stack)")
    group.addoption("--dnsaas-secondary", default=None, choices=["bind9", "knot", "pdns", "none"],
                    help="secondary nameserver of the dnsaas_stack fixture (default bind9)")
    group.addoption("--dnsaas-postgres", default=None, metavar="URL",
                    help="PostgreSQL database for dnsaas_stack (default: embedded SQLite)")
    parser.addini("dnsaas_secondary", "secondary of the dnsaas_stack fixture", default="bind9")
    parser.addini("dnsaas_postgres", "PostgreSQL URL for the dnsaas_stack fixture", default="")


class DnsaasStack:
    """A running stack: ``client`` (REST), ``api_url``, ``token``, ``mdns`` and ``secondary``
    addresses, and a few helpers for the common steps of a test."""

    def __init__(self, info: StackInfo) -> None:
        from dnsaas.client import Client

        self.info = info
        self.api_url: str = info.api_url
        self.token: str | None = info.token
        self.mdns: tuple[str, int] = info.mdns
        self.secondary: tuple[str, int] | None = info.secondary
        self.secondary_kind: str = info.secondary_kind
        self.client: Client = Client(info.api_url, info.token or "")

    @property
    def headers(self) -> dict[str, str]:
        """Headers for your own HTTP client (token auth)."""
        return {"X-Auth-Token": self.token or "", "Content-Type": "application/json"}

    def create_zone(self, name: str, email: str | None = None, *, wait: bool = True,
                    **fields: Any) -> dict[str, Any]:
        """POST a zone (email defaults to hostmaster@NAME); with ``wait``, until ACTIVE."""
        name = name if name.endswith(".") else name + "."
        body = {"name": name, "email": email or f"hostmaster@{name.rstrip('.')}", **fields}
        zone = self.client.request("POST", "/v2/zones", body).body
        return self.wait_active(zone) if wait else zone

    def create_recordset(self, zone: dict[str, Any], name: str, rtype: str, records: Sequence[str], *,
                         wait: bool = True, **fields: Any) -> dict[str, Any]:
        """POST a recordset (``name`` absolute, relative to the zone, or ``@``)."""
        from dnsaas.client import absolute_name

        body = {"name": absolute_name(name, zone["name"]), "type": rtype, "records": list(records),
                **fields}
        rs = self.client.request("POST", f"/v2/zones/{zone['id']}/recordsets", body).body
        return self.wait_active(rs) if wait else rs

    def wait_active(self, resource: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Poll a zone or recordset (as returned by the API) until it is ACTIVE."""
        path = (f"/v2/zones/{resource['zone_id']}/recordsets/{resource['id']}" if "zone_id" in resource
                else f"/v2/zones/{resource['id']}")
        what = f"{resource.get('name')} {resource.get('type', '')}".strip()
        result = self.client.wait_active(lambda: self.client.get(path), what, timeout)
        assert result is not None
        return result

    def resolve(self, name: str, rdtype: str = "A", *, at: str = "secondary",
                tcp: bool = False) -> list[str]:
        """The answer's rdata as text, asked at the secondary (default) or at ``mdns``."""
        import dns.flags
        import dns.message
        import dns.query
        import dns.rcode
        import dns.rdatatype

        target = self.mdns if at == "mdns" else self.secondary
        if target is None:
            raise RuntimeError("this stack runs without a secondary (--dnsaas-secondary none)")
        query = dns.message.make_query(name, rdtype)
        query.flags &= ~dns.flags.RD
        ask = dns.query.tcp if tcp else dns.query.udp
        answer = ask(query, target[0], port=target[1], timeout=2.0)
        if answer.rcode() != dns.rcode.NOERROR:
            return []
        return sorted(rd.to_text() for rrset in answer.answer for rd in rrset
                      if rrset.rdtype == dns.rdatatype.from_text(rdtype))

    def wait_for_answer(self, name: str, rdtype: str, expected: Sequence[str], *, at: str = "secondary",
                        timeout: float = 15.0) -> list[str]:
        """Ask until the answer equals ``expected`` (sorted rdata texts); AssertionError on timeout."""
        want = sorted(expected)
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while time.monotonic() < deadline:
            try:
                got = self.resolve(name, rdtype, at=at)
            except Exception:  # a timeout while the secondary is busy: ask again
                got = []
            if got == want:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{name} {rdtype} at {at}: {got} after {timeout:g} s, wanted {want}")


def _option(config: pytest.Config, name: str) -> str:
    return str(config.getoption(f"--dnsaas-{name}") or config.getini(f"dnsaas_{name}") or "")


@pytest.fixture(scope="session")
def dnsaas_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[DnsaasStack]:
    """A real dnsaas stack (API + mdns + worker + a secondary), one per test session."""
    from dnsaas import harness

    kind = _option(request.config, "secondary") or "bind9"
    postgres = _option(request.config, "postgres") or None
    if kind != "none":
        launcher = harness._launcher(kind)
        if not launcher.available():
            message = f"dnsaas_stack: secondary {kind} is not installed"
            if os.environ.get("DNSAAS_REQUIRE_PEERS") == "1":
                pytest.fail(f"{message} (DNSAAS_REQUIRE_PEERS=1)", pytrace=False)
            pytest.skip(message)
    state = tmp_path_factory.mktemp("dnsaas-stack") / "harness.json"
    try:
        info = harness.up(secondary=kind, database_url=postgres, state_file=state)
    except harness.HarnessError as exc:
        pytest.fail(f"dnsaas_stack did not start: {exc}", pytrace=False)
    try:
        yield DnsaasStack(info)
    finally:
        harness.down(state)
