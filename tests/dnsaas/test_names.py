"""Tests for dnsaas.names (designate-api.md §1.1, §1.2)."""

from __future__ import annotations

import pytest

from dnsaas.names import (
    email_problems,
    email_to_rname,
    fqdn_problems,
    in_zone,
    is_subdomain,
    parent_names,
    recordset_name_problems,
    tld_name_problems,
    ttl_problems,
    zone_name_problems,
)

LONG_LABEL = "a" * 64
NAME_254 = ("a" * 62 + ".") * 4 + "bc."  # 4*63 + 3 = 255 chars -> too long
NAME_OK_LONG = ("a" * 62 + ".") * 4 + "b."  # 254 chars


@pytest.mark.parametrize("name", [
    "example.com.", "a.example.com.", "EXAMPLE.com.", "under_score.example.com.",
    "xn--bcher-kva.example.", "a-b.c-d.", "0.1.in-addr.arpa.", NAME_OK_LONG,
])
def test_zone_name_good(name: str) -> None:
    assert zone_name_problems(name) == []


@pytest.mark.parametrize(("name", "fragment"), [
    ("example.com", "ending with a dot"),
    ("com.", "two labels"),
    (".", "root name"),
    ("", "ending with a dot"),
    ("*.example.com.", "wildcard"),
    ("-a.example.com.", "start or end with '-'"),
    ("a-.example.com.", "start or end with '-'"),
    ("a..example.com.", "empty label"),
    ("a b.example.com.", "may only contain"),
    ("ex@mple.com.", "may only contain"),
    (f"{LONG_LABEL}.com.", "longer than 63"),
    (NAME_254, "longer than 254"),
])
def test_zone_name_bad(name: str, fragment: str) -> None:
    problems = zone_name_problems(name)
    assert problems and any(fragment in p for p in problems), problems


def test_zone_name_not_a_string() -> None:
    assert zone_name_problems(42) == ["must be a string"]  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "rtype"), [
    ("www.example.com.", "A"),
    ("example.com.", "NS"),
    ("sub.example.com.", "NS"),
    ("*.example.com.", "A"),
    ("*.example.com.", "TXT"),
    ("_sip._tcp.example.com.", "SRV"),
    ("_443._tcp.www.example.com.", "TLSA"),
    ("_65535._udp.example.com.", "TLSA"),
    ("_dns.resolver.arpa.", "SVCB"),
])
def test_recordset_name_good(name: str, rtype: str) -> None:
    assert recordset_name_problems(name, rtype) == []


@pytest.mark.parametrize(("name", "rtype", "fragment"), [
    ("www.example.com", "A", "ending with a dot"),
    ("*.example.com.", "NS", "wildcard"),
    ("a.*.example.com.", "A", "may only contain"),
    ("*", "A", "ending with a dot"),
    (f"{LONG_LABEL}.example.com.", "A", "longer than 63"),
    (NAME_254, "A", "longer than 254"),
    ("sip._tcp.example.com.", "SRV", "_service._proto"),
    ("_sip.tcp.example.com.", "SRV", "_service._proto"),
    ("_sip._tcp.", "SRV", "_service._proto"),
    ("_65536._tcp.example.com.", "TLSA", "port <= 65535"),
    ("_https._tcp.example.com.", "TLSA", "port <= 65535"),
    ("_443.tcp.example.com.", "TLSA", "port <= 65535"),
    ("www.example.com.", "TLSA", "port <= 65535"),
])
def test_recordset_name_bad(name: str, rtype: str, fragment: str) -> None:
    problems = recordset_name_problems(name, rtype)
    assert problems and any(fragment in p for p in problems), problems


@pytest.mark.parametrize(("name", "kwargs", "ok"), [
    (".", {"allow_root": True}, True),
    (".", {}, False),
    ("*.a.", {"allow_wildcard": True}, True),
    ("*.a.", {}, False),
    ("*.", {"allow_wildcard": True}, False),
])
def test_fqdn_options(name: str, kwargs: dict[str, bool], ok: bool) -> None:
    assert (fqdn_problems(name, **kwargs) == []) is ok


@pytest.mark.parametrize(("name", "zone", "expected"), [
    ("example.com.", "example.com.", True),
    ("www.example.com.", "example.com.", True),
    ("WWW.Example.COM.", "example.com.", True),
    ("www.example.com.", "EXAMPLE.com.", True),
    ("badexample.com.", "example.com.", False),
    ("example.org.", "example.com.", False),
    ("com.", "example.com.", False),
])
def test_in_zone(name: str, zone: str, expected: bool) -> None:
    assert in_zone(name, zone) is expected


@pytest.mark.parametrize(("child", "parent", "expected"), [
    ("a.example.com.", "example.com.", True),
    ("A.EXAMPLE.com.", "example.com.", True),
    ("example.com.", "example.com.", False),
    ("Example.com.", "example.com.", False),
    ("xexample.com.", "example.com.", False),
])
def test_is_subdomain(child: str, parent: str, expected: bool) -> None:
    assert is_subdomain(child, parent) is expected


@pytest.mark.parametrize(("name", "expected"), [
    ("a.b.example.com.", ["b.example.com.", "example.com.", "com."]),
    ("example.com.", ["com."]),
    ("com.", []),
])
def test_parent_names(name: str, expected: list[str]) -> None:
    assert parent_names(name) == expected


@pytest.mark.parametrize("email", [
    "hostmaster@example.com", "host.master@example.com", "a_b@sub.example.org",
    "x@example.com.",
])
def test_email_good(email: str) -> None:
    assert email_problems(email) == []


@pytest.mark.parametrize(("email", "fragment"), [
    ("example.com", "exactly one '@'"),
    ("a@b@example.com", "exactly one '@'"),
    ("@example.com", "local part"),
    ("a@", "local part"),
    ("a b@example.com", "may only contain"),
    ("a@exa..mple.com", "empty label"),
    ("a@" + "b" * 254 + ".com", "longer than 255"),
])
def test_email_bad(email: str, fragment: str) -> None:
    problems = email_problems(email)
    assert problems and any(fragment in p for p in problems), problems


@pytest.mark.parametrize(("email", "rname"), [
    ("hostmaster@example.com", "hostmaster.example.com."),
    ("host.master@example.com", "host\\.master.example.com."),
    ("a@example.com.", "a.example.com."),
])
def test_email_to_rname(email: str, rname: str) -> None:
    assert email_to_rname(email) == rname


@pytest.mark.parametrize("ttl", [0, 1, 3600, 2147483647])
def test_ttl_good(ttl: int) -> None:
    assert ttl_problems(ttl) == []


@pytest.mark.parametrize("ttl", [-1, 2147483648, True, False, 3600.0, "3600", None])
def test_ttl_bad(ttl: object) -> None:
    problems = ttl_problems(ttl, field="minimum")
    assert len(problems) == 1 and problems[0].startswith("minimum ")


@pytest.mark.parametrize("name", ["com", "co.uk", "under_score", "xn--p1ai"])
def test_tld_good(name: str) -> None:
    assert tld_name_problems(name) == []


@pytest.mark.parametrize("name", ["com.", "", "-com", "com-", "co..uk", "c m", LONG_LABEL, "*"])
def test_tld_bad(name: str) -> None:
    assert tld_name_problems(name) != []
