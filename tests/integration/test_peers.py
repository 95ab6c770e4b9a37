"""The real-nameserver launchers in dnsaas.testing work: as primaries, secondaries, consumers."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dnsaas.testing.peers import (
    BindServer,
    KnotServer,
    PowerDNSServer,
    find_binary,
    require_binaries,
)
from dnsaas.testing.ports import free_port, wait_for

pytestmark = pytest.mark.peers

ZONE = "example.test"
SERIAL = 2024010101
ZONE_TEXT = f"""$TTL 300
@    IN SOA ns1.{ZONE}. hostmaster.{ZONE}. {SERIAL} 3600 600 86400 300
@    IN NS  ns1.{ZONE}.
ns1  IN A   192.0.2.1
www  IN A   192.0.2.10
www  IN AAAA 2001:db8::10
@    IN MX  10 mail.{ZONE}.
txt  IN TXT "hello world"
"""
CATALOG = "catalog.invalid"
CATALOG_TEXT = f"""$TTL 0
@ IN SOA invalid. invalid. 1 3600 600 2147483646 0
@ IN NS invalid.
version IN TXT "2"
member1.zones IN PTR {ZONE}.
"""
KEY_NAME = "xfr-key"
KEY = ("hmac-sha256", "1wqLxMbRNj3gm+2wPTYjmLQiK81rOUga/Tkb5qCNpD4=")

BIND_BINS = ("named", "rndc", "dig")
KNOT_BINS = ("knotd", "knotc", "dig")
PDNS_BINS = ("pdns_server", "dig")
Server = BindServer | KnotServer | PowerDNSServer


def dig(server: Server, *args: str) -> list[str]:
    """``dig @host -p port +short ARGS`` -> non-empty output lines."""
    result = subprocess.run(
        [find_binary("dig") or "dig", f"@{server.host}", "-p", str(server.port), "+short"]
        + ["+time=1", "+tries=1", *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if line.strip()]


def assert_serves_example(server: Server) -> None:
    assert dig(server, f"www.{ZONE}", "A") == ["192.0.2.10"]
    assert dig(server, f"www.{ZONE}", "AAAA") == ["2001:db8::10"]
    assert dig(server, ZONE, "MX") == [f"10 mail.{ZONE}."]
    assert dig(server, f"txt.{ZONE}", "TXT") == ['"hello world"']
    assert dig(server, ZONE, "SOA")[0].split()[2] == str(SERIAL)
    assert server.query_soa_serial(ZONE) == SERIAL
    assert server.query_soa_serial("not-served.test") is None


def signed_axfrs(primary: BindServer) -> int:
    """How many AXFRs the BIND primary served signed with KEY_NAME (from its named.log)."""
    assert primary.workdir is not None
    log = (primary.workdir / "named.log").read_text(errors="replace")
    return log.count(f"AXFR started: TSIG {KEY_NAME}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def zone_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("zones")
    (d / "example.zone").write_text(ZONE_TEXT)
    (d / "catalog.zone").write_text(CATALOG_TEXT)
    return {ZONE: d / "example.zone", CATALOG: d / "catalog.zone"}


@pytest.fixture(scope="module")
def bind_primary(zone_files: dict[str, Path]) -> Iterator[BindServer]:
    """BIND serving the example zone and a catalog listing it; knows the TSIG key."""
    require_binaries(*BIND_BINS)
    with BindServer(primary_zones=zone_files, tsig_keys={KEY_NAME: KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def knot_primary(zone_files: dict[str, Path]) -> Iterator[KnotServer]:
    require_binaries(*KNOT_BINS)
    with KnotServer(primary_zones={ZONE: zone_files[ZONE]}) as server:
        yield server


@pytest.fixture(params=["bind", "knot"])
def any_primary(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue(f"{request.param}_primary")


# --- helpers ------------------------------------------------------------------------------


def test_free_port_is_free_for_udp_and_tcp() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))


def test_wait_for_returns_value_or_times_out() -> None:
    calls = iter([0, "", "done"])
    assert wait_for(lambda: next(calls), timeout=1, interval=0.001) == "done"
    with pytest.raises(TimeoutError):
        wait_for(lambda: False, timeout=0.05, interval=0.01)


def test_require_binaries_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DNSAAS_REQUIRE_PEERS", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_binaries("dnsaas-no-such-binary")
    monkeypatch.setenv("DNSAAS_REQUIRE_PEERS", "1")
    with pytest.raises(pytest.fail.Exception):
        require_binaries("dnsaas-no-such-binary")
    require_binaries("sh")


# --- primaries ----------------------------------------------------------------------------


def test_bind_primary_serves_zone_file(bind_primary: BindServer) -> None:
    assert_serves_example(bind_primary)
    status = bind_primary.rndc("status")
    assert status.returncode == 0, status.stderr
    assert bind_primary.rndc_conf.is_file() and bind_primary.keys_conf.is_file()
    assert KEY_NAME in bind_primary.keys_conf.read_text()


def test_knot_primary_serves_zone_file(knot_primary: KnotServer) -> None:
    assert_serves_example(knot_primary)
    assert knot_primary.knotc("status").stdout.strip() == "Running"
    assert knot_primary.socket.is_socket()


def test_pdns_native_zone_via_api() -> None:
    require_binaries(*PDNS_BINS)
    with PowerDNSServer() as pdns:
        assert pdns.api_url == f"http://127.0.0.1:{pdns.api_port}/api/v1/servers/localhost"
        soa = f"ns1.{ZONE}. hostmaster.{ZONE}. {SERIAL} 3600 600 86400 300"
        records = [
            (ZONE, "SOA", soa),
            (ZONE, "NS", f"ns1.{ZONE}."),
            (ZONE, "MX", f"10 mail.{ZONE}."),
            (f"ns1.{ZONE}", "A", "192.0.2.1"),
            (f"www.{ZONE}", "A", "192.0.2.10"),
            (f"www.{ZONE}", "AAAA", "2001:db8::10"),
            (f"txt.{ZONE}", "TXT", '"hello world"'),
        ]
        pdns.create_native_zone(
            ZONE,
            [
                {"name": f"{name}.", "type": rtype, "ttl": 300, "records": [{"content": c}]}
                for name, rtype, c in records
            ],
        )
        status, zone = pdns.api("GET", f"/zones/{ZONE}.")
        assert status == 200 and zone["serial"] == SERIAL
        assert_serves_example(pdns)


@pytest.mark.parametrize("cls", [BindServer, KnotServer, PowerDNSServer])
def test_stop_leaves_no_process_and_no_temp_dir(cls: type[Server]) -> None:
    require_binaries(*cls.binaries)
    server = cls()
    server.start()
    pid, workdir = server.pid, server.workdir
    assert pid is not None and workdir is not None
    assert pid_alive(pid) and workdir.is_dir()
    server.stop()
    assert not pid_alive(pid)
    assert not workdir.exists()
    server.stop()  # idempotent


def test_given_workdir_is_kept(tmp_path: Path) -> None:
    require_binaries(*KnotServer.binaries)
    with KnotServer(workdir=tmp_path / "knot") as knot:
        pid = knot.pid
        assert (tmp_path / "knot" / "knot.conf").is_file()
    assert pid is not None and not pid_alive(pid)
    assert (tmp_path / "knot" / "knot.conf").is_file()


# --- secondaries added at runtime ---------------------------------------------------------


def test_bind_secondary_rndc_addzone(any_primary: Server) -> None:
    require_binaries(*BIND_BINS)
    with BindServer(primary=any_primary.endpoint) as bind:
        assert bind.query_soa_serial(ZONE) is None
        result = bind.rndc(
            "addzone",
            ZONE,
            f"{{ type secondary; primaries {{ 127.0.0.1 port {any_primary.port}; }}; "
            f'file "{ZONE}.db"; }};',
        )
        assert result.returncode == 0, result.stderr
        wait_for(lambda: bind.query_soa_serial(ZONE) == SERIAL, timeout=5)
        assert_serves_example(bind)
        bind.delzone(ZONE)
        wait_for(lambda: bind.query_soa_serial(ZONE) is None, timeout=5)


def test_bind_secondary_with_tsig(bind_primary: BindServer) -> None:
    before = signed_axfrs(bind_primary)
    with BindServer(primary=bind_primary.endpoint, tsig_keys={KEY_NAME: KEY}) as bind:
        bind.addzone(ZONE, key=KEY_NAME)
        wait_for(lambda: bind.query_soa_serial(ZONE) == SERIAL, timeout=5)
        assert dig(bind, f"www.{ZONE}", "A") == ["192.0.2.10"]
    wait_for(lambda: signed_axfrs(bind_primary) > before, timeout=2)


@pytest.mark.parametrize("tsig", [False, True], ids=["plain", "tsig"])
def test_knot_secondary_runtime_zone_survives_reload(bind_primary: BindServer, tsig: bool) -> None:
    require_binaries(*KNOT_BINS)
    keys = {KEY_NAME: KEY} if tsig else {}
    before = signed_axfrs(bind_primary)
    with KnotServer(primary=bind_primary.endpoint, tsig_keys=keys) as knot:
        knot.add_zone(ZONE, f"secondary-tsig-{KEY_NAME}" if tsig else "secondary")
        wait_for(lambda: knot.query_soa_serial(ZONE) == SERIAL, timeout=5)
        assert_serves_example(knot)
        assert knot.knotc("reload").returncode == 0
        assert f"zone.domain = {ZONE}." in knot.knotc("conf-read", "zone").stdout
        wait_for(lambda: knot.query_soa_serial(ZONE) == SERIAL, timeout=5)
        knot.remove_zone(ZONE)
        wait_for(lambda: knot.query_soa_serial(ZONE) is None, timeout=5)
    if tsig:
        wait_for(lambda: signed_axfrs(bind_primary) > before, timeout=2)


def test_pdns_secondary_axfr_retrieve(knot_primary: KnotServer) -> None:
    require_binaries(*PDNS_BINS)
    with PowerDNSServer(primary=knot_primary.endpoint) as pdns:
        pdns.add_secondary_zone(ZONE)
        wait_for(lambda: pdns.query_soa_serial(ZONE) == SERIAL, timeout=5)
        assert_serves_example(pdns)


def test_pdns_secondary_with_tsig(bind_primary: BindServer) -> None:
    require_binaries(*PDNS_BINS)
    before = signed_axfrs(bind_primary)
    with PowerDNSServer(primary=bind_primary.endpoint, tsig_keys={KEY_NAME: KEY}) as pdns:
        pdns.add_secondary_zone(ZONE, key=KEY_NAME)
        wait_for(lambda: pdns.query_soa_serial(ZONE) == SERIAL, timeout=5)
    wait_for(lambda: signed_axfrs(bind_primary) > before, timeout=2)


# --- catalog zone consumers ---------------------------------------------------------------


@pytest.mark.parametrize("cls", [BindServer, KnotServer, PowerDNSServer])
def test_catalog_consumer(bind_primary: BindServer, cls: type[Server]) -> None:
    require_binaries(*cls.binaries)
    with cls(catalog_zones=[(CATALOG, bind_primary.endpoint)]) as consumer:
        wait_for(lambda: consumer.query_soa_serial(ZONE) == SERIAL, timeout=5)
        assert dig(consumer, f"www.{ZONE}", "A") == ["192.0.2.10"]


# --- outage and restart -------------------------------------------------------------------


@pytest.mark.parametrize("cls", [BindServer, KnotServer])
def test_restart_keeps_runtime_zones(bind_primary: BindServer, cls: type[Server]) -> None:
    require_binaries(*cls.binaries)
    with cls(primary=bind_primary.endpoint) as server:
        if isinstance(server, BindServer):
            server.addzone(ZONE)
        elif isinstance(server, KnotServer):
            server.add_zone(ZONE)
        wait_for(lambda: server.query_soa_serial(ZONE) == SERIAL, timeout=5)
        old_pid, port = server.pid, server.port
        assert old_pid is not None
        server.terminate()
        assert not pid_alive(old_pid) and not server.running
        assert server.query_soa_serial(ZONE) is None
        server.restart()
        assert server.running and server.pid != old_pid and server.port == port
        wait_for(lambda: server.query_soa_serial(ZONE) == SERIAL, timeout=5)
