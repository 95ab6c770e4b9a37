"""Tests for dnsaas.records (designate-api.md §1.3)."""

from __future__ import annotations

import base64
import random
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import pytest

from dnsaas import records as records_module
from dnsaas import wire
from dnsaas.errors import InvalidObject
from dnsaas.records import (
    SUPPORTED_TYPES,
    ParsedRecord,
    parse_records,
    rdata_to_wire,
    wire_to_text,
)

HEX64 = "ab" * 32
HEX128 = "cd" * 64
ECH = base64.b64encode(b"\x00\x04abcd").decode()  # a minimal well-formed ECHConfigList
CERT_B64 = base64.b64encode(b"certificate bytes").decode()


def _name_for(rtype: str) -> str:
    return {"SRV": "_sip._tcp.example.com.", "TLSA": "_443._tcp.example.com."}.get(
        rtype, "www.example.com.")


GOOD: list[tuple[str, str]] = [
    ("A", "192.0.2.1"),
    ("A", "0.0.0.0"),
    ("AAAA", "2001:db8::1"),
    ("AAAA", "::ffff:192.0.2.1"),
    ("CNAME", "target.example.com."),
    ("CNAME", "_under.example.com."),
    ("NS", "ns1.example.net."),
    ("PTR", "host.example.com."),
    ("MX", "10 mail.example.com."),
    ("MX", "0 mail.example.com."),
    ("MX", "65535 mail.example.com."),
    ("MX", "0 ."),  # null MX (RFC 7505)
    ("SRV", "10 20 5060 sip.example.com."),
    ("SRV", "0 0 0 ."),
    ("TXT", "simple"),
    ("TXT", '"with spaces"'),
    ("TXT", '"escaped \\" quote"'),
    ("TXT", '"a" "b"'),
    ("TXT", "v=DKIM1;k=rsa"),
    ("TXT", '""'),
    ("TXT", '"' + "x" * 255 + '"'),
    ("TXT", '"' + "x" * 255 + '" "' + "y" * 100 + '"'),
    ("SPF", '"v=spf1 mx -all"'),
    ("SPF", '"v=spf1 ' + "x" * 300 + '"'),
    ("SSHFP", "1 1 " + "a" * 40),
    ("SSHFP", "4 2 " + "F" * 64),
    ("SSHFP", "0 0 " + "0" * 10),
    ("SOA", "ns1.example.com. host\\.master.example.com. 1 3600 600 86400 3600"),
    ("NAPTR", "0 0 S SIP+D2U !^.*$!sip:customer-service@example.com! _sip._udp.example.com."),
    ("NAPTR", '100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .'),
    ("NAPTR", '1 1 "" "" "" replacement.example.com.'),
    ("CAA", "0 issue letsencrypt.org"),
    ("CAA", "1 issuewild ca.example.net"),
    ("CAA", "0 issue letsencrypt.org; validationmethods=dns-01"),
    ("CAA", "0 issue ;"),
    ("CAA", '0 issue "letsencrypt.org"'),
    ("CAA", "0 iodef mailto:security@example.com"),
    ("CAA", "0 iodef mailto:security+caa@example.com"),
    ("CAA", "0 iodef https://iodef.example.com/report"),
    ("CAA", "0 iodef http://iodef.example.com/"),
    ("CERT", f"PKIX 1 RSASHA256 {CERT_B64}"),
    ("CERT", f"1 65535 255 {CERT_B64}"),
    ("CERT", "PGP 0 DSA-NSEC3-SHA1 AAAA AAAA"),
    ("CERT", f"URI 12 ECC-GOST {CERT_B64}"),
    ("HTTPS", "1 . alpn=h2,h3"),
    ("HTTPS", "0 svc.example.com."),
    ("HTTPS", "1 svc.example.com. alpn=h2 no-default-alpn port=8443"),
    ("HTTPS", "1 . ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::1"),
    ("HTTPS", f"1 . alpn=http/1.1 ech={ECH}"),
    ("HTTPS", "1 . alpn=h2 port=443 mandatory=alpn,port"),
    ("SVCB", "1 dns.example.com. alpn=h2 dohpath=/dns-query{?dns}"),
    ("SVCB", "1 . alpn=h2c,http/1.0"),
    ("SVCB", "1 . dohpath=/{?dns}"),
    ("TLSA", f"3 1 1 {HEX64}"),
    ("TLSA", f"3 1 2 {HEX128}"),
    ("TLSA", "3 0 0 abcdef"),
    ("TLSA", f"3 1 1 ( {HEX64[:32]}\n {HEX64[32:]} )"),
]

BAD: list[tuple[str, str]] = [
    ("A", "192.0.2"),
    ("A", "192.0.2.256"),
    ("A", "01.2.3.4"),
    ("A", "2001:db8::1"),
    ("A", "example.com."),
    ("AAAA", "192.0.2.1"),
    ("AAAA", "2001:db8::1::2"),
    ("AAAA", "fe80::1%eth0"),
    ("CNAME", "target.example.com"),
    ("CNAME", "bad label.example.com."),
    ("CNAME", "."),
    ("CNAME", "*.example.com."),
    ("NS", "ns1.example.net"),
    ("PTR", "-host.example.com."),
    ("MX", "10 mail.example.com"),
    ("MX", "mail.example.com."),
    ("MX", "10  mail.example.com."),
    ("MX", "10 mail.example.com. extra"),
    ("MX", "-0 mail.example.com."),
    ("MX", "-1 mail.example.com."),
    ("MX", "010 mail.example.com."),
    ("MX", " mail.example.com."),
    ("MX", "65536 mail.example.com."),
    ("SRV", "10 20 5060"),
    ("SRV", "10 20 65536 sip.example.com."),
    ("SRV", "10 20 5060 sip.example.com"),
    ("SRV", "-1 20 5060 sip.example.com."),
    ("TXT", "two words"),
    ("TXT", '"unbalanced'),
    ("TXT", 'unbalanced"'),
    ("TXT", '"inner " quote"'),
    ("TXT", "ends with backslash\\"),
    ("TXT", "trailing\\"),
    ("TXT", '"line\nbreak"'),
    ("TXT", "x" * 256),
    ("TXT", '"' + "x" * 256 + '"'),
    ("TXT", '"' + "x" * 300 + '" "ok"'),
    ("SPF", "v=spf1 mx -all"),
    ("SPF", '"v=spf1\nmx"'),
    ("SPF", '"v=spf1'),
    ("SSHFP", "1 1 " + "a" * 9),
    ("SSHFP", "1 1 " + "a" * 41),
    ("SSHFP", "1 1 " + "a" * 63),
    ("SSHFP", "1 1 " + "g" * 40),
    ("SSHFP", "5 1 " + "a" * 40),
    ("SSHFP", "1 3 " + "a" * 40),
    ("SSHFP", "01 1 " + "a" * 40),
    ("SSHFP", "1 1"),
    ("SOA", "ns1.example.com. hostmaster.example.com. 1 3600 600 86400"),
    ("SOA", "ns1.example.com hostmaster.example.com. 1 3600 600 86400 3600"),
    ("NAPTR", "0 0 S SIP+D2U !^.*$!sip:a@example.com!"),
    ("NAPTR", "65536 0 S SIP+D2U !^.*$!sip:a@example.com! ."),
    ("NAPTR", "0 0 X SIP+D2U !^.*$!sip:a@example.com! ."),
    ("NAPTR", "0 0 S 1SIP !^.*$!sip:a@example.com! ."),
    ("NAPTR", "0 0 S SIP+D2U 1^.*$1sip:a@example.com1 ."),
    ("NAPTR", "0 0 S SIP+D2U !^.*$ ."),
    ("NAPTR", "0 0 S SIP+D2U !^.*$!sip:a@example.com! replacement.example.com"),
    ("CAA", "2 issue letsencrypt.org"),
    ("CAA", "128 issue letsencrypt.org"),
    ("CAA", "0 Issue letsencrypt.org"),
    ("CAA", "0 tbs whatever"),
    ("CAA", "0 issue"),
    ("CAA", "0 issue bad_domain!.org"),
    ("CAA", "0 issue letsencrypt.org; not a pair"),
    ("CAA", "0 iodef ftp://example.com/"),
    ("CAA", "0 iodef mailto:a b@example.com"),
    ("CAA", "0 iodef https://example.com"),
    ("CAA", "0 iodef mailto:sec@bad..example.com"),
    ("CERT", "PKIX 1 RSASHA256"),
    ("CERT", f"BOGUS 1 RSASHA256 {CERT_B64}"),
    ("CERT", f"65536 1 RSASHA256 {CERT_B64}"),
    ("CERT", f"PKIX 65536 RSASHA256 {CERT_B64}"),
    ("CERT", f"PKIX 1 256 {CERT_B64}"),
    ("CERT", f"PKIX 1 NOTANALGO {CERT_B64}"),
    ("CERT", "PKIX 1 RSASHA256 not*base64"),
    ("HTTPS", "1"),
    ("HTTPS", "65536 . alpn=h2"),
    ("HTTPS", "1 svc.example.com alpn=h2"),
    ("HTTPS", "1 . alpn=h5"),
    ("HTTPS", "1 . alpn=h2,spdy/3"),
    ("HTTPS", "1 . no-default-alpn"),
    ("HTTPS", "1 . key65000=abc"),
    ("HTTPS", "1 . alpn"),
    ("HTTPS", "1 . port=https"),
    ("HTTPS", "1 . port=70000"),
    ("HTTPS", "1 . ipv4hint=192.0.2.1,300.0.0.1"),
    ("HTTPS", "1 . ipv6hint=192.0.2.1"),
    ("HTTPS", "1 . ech=not-base64!"),
    ("HTTPS", "1 . mandatory=port"),
    ("HTTPS", "1 . alpn=h2 alpn=h3"),
    ("HTTPS", "1 . dohpath=/dns-query{?dns}"),
    ("SVCB", "1 . alpn=h2 dohpath=dns-query{?dns}"),
    ("SVCB", "1 . alpn=h2 dohpath=/{?dns"),
    ("SVCB", "1 . alpn=h2 dohpath=/dns-query"),
    ("SVCB", "1 . alpn=h2 dohpath="),
    ("TLSA", "3 1 1"),
    ("TLSA", f"3 1 1 {HEX64[:-1]}"),
    ("TLSA", f"3 1 1 {HEX64}ab"),
    ("TLSA", f"3 1 2 {HEX64}"),
    ("TLSA", "3 1 0 zz"),
    ("TLSA", f"256 1 1 {HEX64}"),
    ("TLSA", f"x 1 1 {HEX64}"),
]


@pytest.mark.parametrize(("rtype", "data"), GOOD)
def test_good_records(rtype: str, data: str) -> None:
    parsed = parse_records(rtype, _name_for(rtype), [data])
    expected = data if rtype == "TLSA" else data.strip()
    assert len(parsed) == 1 and parsed[0].data == expected
    # The wire must decode as the same type (dnspython validates the structure).
    assert wire_to_text(rtype, parsed[0].wire)


@pytest.mark.parametrize(("rtype", "data"), BAD)
def test_bad_records(rtype: str, data: str) -> None:
    with pytest.raises(InvalidObject) as info:
        parse_records(rtype, _name_for(rtype), [data])
    (error,) = info.value.errors or []
    assert error["path"] == ["records", 0]
    stored = data if rtype == "TLSA" else data.strip()
    assert error["message"].startswith(f"'{stored}' is not a '{rtype}' Record")
    assert error["validator"] == "format"


def test_all_seventeen_types_supported() -> None:
    assert len(SUPPORTED_TYPES) == 17
    assert {rtype for rtype, _ in GOOD} == SUPPORTED_TYPES
    assert {rtype for rtype, _ in BAD} == SUPPORTED_TYPES


@pytest.mark.parametrize(("rtype", "data"), [
    ("A", "192.0.2.1"),
    ("AAAA", "2001:db8::1"),
    ("CNAME", "Target.Example.com."),
    ("MX", "10 mail.example.com."),
    ("SRV", "10 20 5060 sip.example.com."),
    ("TXT", '"hello world" "second"'),
    ("SSHFP", "1 1 " + "a" * 40),
    ("NAPTR", '100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .'),
    ("CAA", '0 issue "letsencrypt.org"'),
    ("HTTPS", "1 . alpn=h2,h3 port=443"),
    ("SVCB", "1 dns.example.com. alpn=h2 dohpath=/dns-query{?dns}"),
    ("TLSA", f"3 1 1 {HEX64}"),
    ("SOA", "ns1.example.com. host\\.master.example.com. 1 3600 600 86400 3600"),
])
def test_wire_matches_dnspython(rtype: str, data: str) -> None:
    expected = dns.rdata.from_text("IN", rtype, data).to_wire()
    (parsed,) = parse_records(rtype, _name_for(rtype), [data])
    assert parsed.wire == expected
    assert rdata_to_wire(rtype, data) == expected


@pytest.mark.parametrize(("rtype", "data", "zone_file_text"), [
    ("TXT", "v=DKIM1;k=rsa", '"v=DKIM1;k=rsa"'),  # ';' is literal, not a comment
    ("CAA", "0 issue letsencrypt.org; validationmethods=dns-01",
     '0 issue "letsencrypt.org; validationmethods=dns-01"'),
    ("CERT", "PGP 0 DSA-NSEC3-SHA1 AAAA", "PGP 0 6 AAAA"),  # Designate's hyphenated mnemonic
    ("TLSA", f"3 1 1 ( {HEX64[:32]}\n {HEX64[32:]} )", f"3 1 1 {HEX64}"),
])
def test_wire_of_designate_only_syntax(rtype: str, data: str, zone_file_text: str) -> None:
    (parsed,) = parse_records(rtype, _name_for(rtype), [data])
    assert parsed.wire == dns.rdata.from_text("IN", rtype, zone_file_text).to_wire()


def test_spf_long_string_is_chunked_on_the_wire() -> None:
    text = "v=spf1 " + "x" * 300
    (parsed,) = parse_records("SPF", "example.com.", [f'"{text}"'])
    rdata = dns.rdata.from_wire("IN", "SPF", parsed.wire, 0, len(parsed.wire))
    assert [len(s) for s in rdata.strings] == [255, 52]
    assert b"".join(rdata.strings).decode() == text


def test_txt_escapes_become_bytes() -> None:
    (parsed,) = parse_records("TXT", "example.com.", ['"a\\"b\\059c"'])
    assert parsed.wire == b'\x05a"b;c'


def test_three_bad_records_give_three_errors() -> None:
    records = ["192.0.2.1", "bad", "192.0.2.2", "300.1.1.1", "also bad"]
    with pytest.raises(InvalidObject) as info:
        parse_records("A", "www.example.com.", records)
    errors = info.value.errors or []
    assert [e["path"] for e in errors] == [["records", 1], ["records", 3], ["records", 4]]
    assert errors[0]["message"].startswith("'bad' is not a 'A' Record")
    assert all(e["validator"] == "format" and e["validator_value"] == ["A"] for e in errors)
    assert info.value.body()["errors"]["errors"] == errors
    assert info.value.code == 400 and info.value.type == "invalid_object"


def test_duplicates_collapse_keeping_first_order() -> None:
    parsed = parse_records("A", "www.example.com.",
                           ["192.0.2.2", "192.0.2.1", " 192.0.2.2", "192.0.2.1"])
    assert [p.data for p in parsed] == ["192.0.2.2", "192.0.2.1"]
    assert parsed[0] == ParsedRecord("192.0.2.2", b"\xc0\x00\x02\x02")


def test_duplicate_bad_record_reported_once() -> None:
    with pytest.raises(InvalidObject) as info:
        parse_records("A", "www.example.com.", ["bad", "bad"])
    assert [e["path"] for e in info.value.errors or []] == [["records", 0]]


def test_tlsa_stored_exactly_as_submitted() -> None:
    data = f"  3 1 1 ( {HEX64} )\n"
    (parsed,) = parse_records("TLSA", "_443._tcp.example.com.", [data])
    assert parsed.data == data


def test_cname_at_most_one_record() -> None:
    assert len(parse_records("CNAME", "www.example.com.", ["a.example.", "a.example."])) == 1
    with pytest.raises(InvalidObject) as info:
        parse_records("CNAME", "www.example.com.", ["a.example.", "b.example."])
    (error,) = info.value.errors or []
    assert error["path"] == ["records"] and error["validator"] == "maxItems"


@pytest.mark.parametrize("rtype", ["a", "Mx", "ALIAS", "DNAME", "DS", "DNSKEY", "LOC", "HINFO",
                                   "URI", "", None])
def test_unsupported_or_lowercase_type(rtype: object) -> None:
    with pytest.raises(InvalidObject) as info:
        parse_records(rtype, "www.example.com.", ["192.0.2.1"])  # type: ignore[arg-type]
    (error,) = info.value.errors or []
    assert error["path"] == ["type"]


@pytest.mark.parametrize("records", ["192.0.2.1", None, {"a": 1}, 5])
def test_records_must_be_a_list(records: object) -> None:
    with pytest.raises(InvalidObject) as info:
        parse_records("A", "www.example.com.", records)
    (error,) = info.value.errors or []
    assert error["path"] == ["records"] and error["validator"] == "type"


def test_records_items_must_be_strings() -> None:
    with pytest.raises(InvalidObject) as info:
        parse_records("A", "www.example.com.", ["192.0.2.1", 5, None])
    errors = info.value.errors or []
    assert [e["path"] for e in errors] == [["records", 1], ["records", 2]]
    assert {e["validator"] for e in errors} == {"type"}


def test_empty_records_list_is_allowed() -> None:
    assert parse_records("A", "www.example.com.", []) == []


@pytest.mark.parametrize(("rs_name", "ok"), [
    ("_dns.resolver.arpa.", False),
    ("_853._dns.example.com.", False),
    ("svc.example.com.", True),
    ("my_dns.example.com.", True),
])
def test_svcb_dns_with_h2_requires_dohpath(rs_name: str, ok: bool) -> None:
    def run() -> list[ParsedRecord]:
        return parse_records("SVCB", rs_name, ["1 dns.example.com. alpn=h2"])
    if ok:
        assert len(run()) == 1
    else:
        with pytest.raises(InvalidObject, match="schema") as info:
            run()
        assert "dohpath" in (info.value.errors or [])[0]["message"]


def test_svcb_dns_without_h2_h3_needs_no_dohpath() -> None:
    (parsed,) = parse_records("SVCB", "_dns.example.com.", ["1 . alpn=h2c"])
    assert parsed.data == "1 . alpn=h2c"


def test_rdata_to_wire_with_origin_and_round_trip() -> None:
    wire = rdata_to_wire("MX", "10 mail", origin="example.com.")
    assert wire == dns.rdata.from_text("IN", "MX", "10 mail.example.com.").to_wire()
    assert wire_to_text("MX", wire) == "10 mail.example.com."
    assert wire_to_text("A", rdata_to_wire("A", "192.0.2.1")) == "192.0.2.1"


def test_rdata_to_wire_rejects_invalid_api_text() -> None:
    with pytest.raises(ValueError, match="canonical"):
        rdata_to_wire("MX", "010 mail.example.com.")


# --- fast paths: identical to the dnspython-based converters ---------------------------------
def _outcome(convert: Any, data: str, rs_name: str) -> tuple[str, object]:
    try:
        return "ok", convert(data, rs_name)
    except (ValueError, dns.exception.DNSException) as exc:
        return type(exc).__name__, str(exc)


def _random_label(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.02:
        return ""
    if kind < 0.05:
        return rng.choice(["*", "-a", "a-", "a\\.b", "\\065", "é", "a b", "@", "a..b"])
    size = rng.choice([1, 2, 5, 5, 12, 12, 62, 63, 64])
    return "".join(rng.choice("abcXYZ019-_") for _ in range(size))


def _random_name(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return rng.choice([".", "", "..", "a", "a.b", " a.b.", "a.b. "])
    labels = [_random_label(rng) for _ in range(rng.choice([1, 2, 2, 3, 3, 4, 9]))]
    if rng.random() < 0.05:  # near the 254/255 length limits
        labels = ["a" * 63] * 3 + ["b" * rng.choice([59, 60, 61, 62])]
    return ".".join(labels) + ("." if rng.random() < 0.9 else "")


def _random_ipv4(rng: random.Random) -> str:
    parts = [str(rng.choice([0, 1, 9, 10, 99, 100, 199, 249, 250, 255, 256, 300, 999]))
             for _ in range(rng.choice([3, 4, 4, 4, 4, 5]))]
    text = ".".join(parts)
    mutation = rng.random()
    if mutation < 0.05:
        text = "0" + text
    elif mutation < 0.1:
        text = text.replace(".", "..", 1)
    elif mutation < 0.15:
        text = rng.choice([" ", "+", "-", "١"]) + text
    elif mutation < 0.2:
        text += rng.choice([".", " ", "\n", "x"])
    return text


def _random_ipv6(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return "".join(rng.choice("0123456789abcdefABCDEF:.") for _ in range(rng.randrange(0, 42)))
    groups = [f"{rng.choice([0, 0, 1, 0xdb8, 0xffff, 0xffff, 0x10000]):x}"
              .zfill(rng.choice([0, 0, 0, 1, 4, 4, 5])) for _ in range(rng.choice([6, 7, 8, 8, 8, 9]))]
    if rng.random() < 0.6:  # compress a run of groups
        i = rng.randrange(0, len(groups))
        j = rng.randrange(i, len(groups) + 1)
        text = ":".join(groups[:i]) + "::" + ":".join(groups[j:])
    else:
        text = ":".join(groups)
    mutation = rng.random()
    if mutation < 0.05:
        text += ":192.0.2.1"
    elif mutation < 0.1:
        text += "%eth0"
    elif mutation < 0.15:
        text = ":" + text
    elif mutation < 0.2:
        text += ":"
    return text


def _random_txt(rng: random.Random) -> str:
    def chunk() -> str:
        size = rng.choice([0, 1, 10, 254, 255, 256])
        text = "".join(rng.choice("abc =;:()") for _ in range(size))
        if rng.random() < 0.2:
            pos = rng.randrange(0, len(text) + 1)
            text = text[:pos] + rng.choice(['"', "\\", '\\"', "\\059", "é", "\t", "\n"]) + text[pos:]
        return f'"{text}"'
    sep = " " if rng.random() < 0.9 else rng.choice(["  ", "\t", "", ' "'])
    text = sep.join(chunk() for _ in range(rng.choice([1, 1, 2, 3])))
    if rng.random() < 0.05:
        text = text.strip('"')
    return text


def _fast_path_inputs(rtype: str, rng: random.Random) -> list[str]:
    uint = ["0", "10", "010", "65535", "5", "1", "65536", "-1", "+1", "1.5", "", "999999999999"]
    uint += ["0", "10", "20", "443"] * 6
    if rtype == "A":
        return [_random_ipv4(rng) for _ in range(1500)] + ["192.0.2.1", "1.2.3.04", "256.1.1.1"]
    if rtype == "AAAA":
        return [_random_ipv6(rng) for _ in range(3000)] + [
            "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
            "1:2:3:4::5:6:7:8", "1::2:3:4:5:6:7", ":::", "1:::2", "::ffff:1.2.3.4", "0:0::0:0"]
    if rtype in ("CNAME", "NS", "PTR"):
        return [_random_name(rng) for _ in range(2000)]
    if rtype == "MX":
        return [f"{rng.choice(uint)}{rng.choice([' ', ' ', ' ', '  ', chr(9)])}"
                f"{_random_name(rng)}" for _ in range(2000)]
    if rtype == "SRV":
        return [" ".join(rng.choice(uint) for _ in range(rng.choice([2, 3, 3, 3, 4])))
                + " " + _random_name(rng) for _ in range(2000)]
    return [_random_txt(rng) for _ in range(2000)]


_FAST: dict[str, Any] = {
    "A": records_module._a_fast, "AAAA": records_module._aaaa_fast,
    "CNAME": records_module._plain_fqdn_wire, "NS": records_module._plain_fqdn_wire,
    "PTR": records_module._plain_fqdn_wire, "MX": records_module._mx_fast,
    "SRV": records_module._srv_fast, "TXT": records_module._txt_fast,
}


@pytest.mark.parametrize("rtype", ["A", "AAAA", "CNAME", "NS", "PTR", "MX", "SRV", "TXT"])
def test_fast_paths_match_dnspython_converters(rtype: str) -> None:
    """Every fast path gives the dnspython converter's bytes, or defers to it (same error)."""
    rng = random.Random(f"fast-{rtype}")
    inputs = _fast_path_inputs(rtype, rng)
    fast, slow = records_module._CONVERTERS[rtype], records_module._DNS_CONVERTERS[rtype]
    fast_only = _FAST[rtype]
    valid = taken = 0
    for data in inputs:
        expected = _outcome(slow, data, _name_for(rtype))
        assert _outcome(fast, data, _name_for(rtype)) == expected, data
        shortcut = fast_only(data)
        assert shortcut is None or ("ok", shortcut) == expected, data
        valid += expected[0] == "ok"
        taken += shortcut is not None
    # The generators produce plenty of valid and invalid data, and most valid data is fast.
    assert len(inputs) // 20 < valid < len(inputs) * 19 // 20
    assert taken > valid * 0.8


@pytest.mark.parametrize(("rtype", "data"), [
    ("A", "192.0.2.1"), ("AAAA", "2001:db8::1"), ("CNAME", "a.example.com."),
    ("MX", "10 mail.example.com."), ("SRV", "1 2 443 t.example.com."),
    ("TXT", '"v=spf1 -all" "second"'), ("TXT", '""'),
])
def test_fast_paths_give_the_same_parsed_records(rtype: str, data: str) -> None:
    slow = records_module._DNS_CONVERTERS[rtype](data, _name_for(rtype))
    assert parse_records(rtype, _name_for(rtype), [data]) == [ParsedRecord(data, slow)]


def test_plain_name_wire_matches_dnspython() -> None:
    rng = random.Random("names")
    names = [_random_name(rng) for _ in range(3000)] + ["*.a.b.", "A.B", "a" * 63 + "."]
    fast_taken = 0
    for name in names:
        fast = wire.plain_name_wire(name)
        try:
            expected: bytes | None = dns.name.from_text(name).to_wire()
        except dns.exception.DNSException:
            expected = None
        if fast is not None:
            fast_taken += 1
            assert fast == expected, name
        if expected is not None:
            assert wire.name_wire(name) == expected, name
    assert fast_taken > 1000


@pytest.mark.parametrize("names", [
    ("ns1.example.org.", "hostmaster.example.org."), ("NS1.Example.ORG.", "a\\.b.example.org."),
    ("ns.bücher.de.", "x\\032y.example."), ("invalid.", "h.bench.test."), ("ns", "rel"),
])
def test_soa_rdata_is_dnspythons(names: tuple[str, str]) -> None:
    import dns.rdataclass
    import dns.rdatatype
    import dns.rdtypes.ANY.SOA

    for ints in ((2026112101, 3600, 600, 86400, 3600), (4294967295, 0, 1, 2, 2147483647)):
        soa = dns.rdtypes.ANY.SOA.SOA(dns.rdataclass.IN, dns.rdatatype.SOA,
                                      dns.name.from_text(names[0]), dns.name.from_text(names[1]),
                                      *ints)
        assert wire.soa_rdata(*names, *ints) == (soa.to_text(), soa.to_wire())
