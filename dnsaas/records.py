"""Per-type record-data validation and conversion to DNS wire format (designate-api.md §1.3).

Each supported type has a converter ``(data, rs_name) -> wire bytes`` that applies Designate's
rules (stricter than dnspython in places) and lets dnspython build the rdata. A converter raises
``ValueError`` or ``dns.exception.DNSException`` with a short detail when the data is invalid.
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.ipv4
import dns.ipv6
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CAA
import dns.rdtypes.ANY.CERT
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.SPF
import dns.rdtypes.ANY.TLSA
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.NAPTR
import dns.rdtypes.IN.SRV
import dns.tokenizer

from dnsaas import wire
from dnsaas.errors import InvalidObject, error_entry
from dnsaas.names import fqdn_problems

SUPPORTED_TYPES: frozenset[str] = frozenset({
    "A", "AAAA", "CNAME", "MX", "SRV", "TXT", "SPF", "NS", "PTR", "SSHFP", "SOA", "NAPTR",
    "CAA", "CERT", "HTTPS", "SVCB", "TLSA",
})

_IN = dns.rdataclass.IN
_UINT_RE = re.compile(r"[0-9]+\Z")
_CANONICAL_UINT_RE = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_HEX_RE = re.compile(r"[0-9A-Fa-f]*\Z")
_SSHFP_FP_RE = re.compile(r"(?:[0-9A-Fa-f]{10,40}|[0-9A-Fa-f]{64})\Z")
# One or more "quoted" character-strings separated by blanks; inner quotes must be escaped.
_QUOTED_TXT_RE = re.compile(r'"(?:[^"\\]|\\.)*"(?:[ \t]+"(?:[^"\\]|\\.)*")*\Z', re.DOTALL)
_QUOTED_CHUNK_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_UNQUOTED_TXT_RE = re.compile(r'(?:[^\s"\\]|\\\S)+\Z')
_CAA_KVP_RE = re.compile(r"\s*[A-Za-z0-9]+=[\x21-\x3a\x3c-\x7e]*\s*\Z")
_CAA_MAILTO_RE = re.compile(r"mailto:[A-Za-z0-9_-]+(?:\+[A-Za-z0-9_-]+)?@(.+)\Z")
_CAA_HTTP_RE = re.compile(r"https?://([^/]*)/.*\Z", re.DOTALL)
_NAPTR_FLAGS_RE = re.compile(r"[APSUapsu]*\Z")
_NAPTR_SERVICE_RE = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9-]{0,31}(?:[+:][A-Za-z][A-Za-z0-9-]{0,31})*)?\Z")
_NAPTR_REGEXP_RE = re.compile(r"([^0-9i\\]).*\1.+\1i?\Z", re.DOTALL)
_CERT_TYPES = {"PKIX": 1, "SPKI": 2, "PGP": 3, "IPKIX": 4, "ISPKI": 5, "IPGP": 6,
               "ACPKIX": 7, "IACPKIX": 8, "URI": 253, "OID": 254}
_CERT_ALGOS = {"RSAMD5": 1, "DSA": 3, "RSASHA1": 5, "DSA-NSEC3-SHA1": 6,
               "RSASHA1-NSEC3-SHA1": 7, "RSASHA256": 8, "RSASHA512": 10, "ECC-GOST": 12,
               "ECDSAP256SHA256": 13, "ECDSAP384SHA384": 14, "ED25519": 15, "ED448": 16}
_SVCB_KEYS = frozenset({"alpn", "no-default-alpn", "port", "ipv4hint", "ipv6hint", "ech",
                        "mandatory", "dohpath"})
_HTTPS_KEYS = _SVCB_KEYS - {"dohpath"}
_ALPN_VALUES = frozenset({"h3", "h2", "h2c", "http/1.1", "http/1.0"})
_TLSA_HASH_LEN = {1: 64, 2: 128}
# Fast paths (plain, common inputs; anything else goes through dnspython, see below).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_RE = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}\Z")
_IPV6_HEX_RE = re.compile(r"[0-9A-Fa-f:]{2,39}\Z")
_SIMPLE_QUOTED_RE = re.compile(r'"[^"\\\n\r]*"(?: "[^"\\\n\r]*")*\Z')
_U16 = struct.Struct("!H")
_U16X3 = struct.Struct("!HHH")


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One validated record: its API text and its uncompressed wire-format rdata."""

    data: str
    wire: bytes


# --- helpers ---------------------------------------------------------------------------------
def _uint(text: str, what: str, maximum: int, canonical: bool = False) -> int:
    """Parse an unsigned decimal; ``canonical`` also rejects leading zeros and signs."""
    pattern = _CANONICAL_UINT_RE if canonical else _UINT_RE
    if not pattern.match(text):
        raise ValueError(f"{what} must be {'a canonical' if canonical else 'an'} integer")
    value = int(text)
    if value > maximum:
        raise ValueError(f"{what} must be between 0 and {maximum}")
    return value


def _name(text: str, what: str, allow_root: bool = False) -> dns.name.Name:
    """An absolute domain name inside rdata (trailing dot, valid labels)."""
    problems = fqdn_problems(text, allow_root=allow_root)
    if problems:
        raise ValueError(f"{what} {problems[0]}")
    return dns.name.from_text(text, None)


def _fields(data: str, count: int, what: str) -> list[str]:
    """Split on single spaces into exactly ``count`` fields."""
    parts = data.split(" ")
    if len(parts) != count:
        raise ValueError(f"expected {count} space-separated fields: {what}")
    return parts


def _unescape(text: str) -> bytes:
    """Presentation-format escapes (``\\X``, ``\\DDD``) to bytes; non-ASCII as UTF-8."""
    if "\\" not in text:
        return text.encode()
    return dns.tokenizer.Token(dns.tokenizer.IDENTIFIER, text, True).unescape_to_bytes().value


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _from_text(rtype: str, data: str) -> bytes:
    return dns.rdata.from_text(_IN, rtype, data, None).to_wire()


# --- converters ------------------------------------------------------------------------------
# Fast paths: each returns the wire rdata for a plain, valid input and None for anything else,
# in which case the dnspython-based converter below decides (and words the error). They must
# give exactly the bytes of that converter (tests/dnsaas/test_records.py compares them).
def _plain_fqdn_wire(text: str) -> bytes | None:
    """Wire form of a valid absolute host name (what ``_name(text, ...).to_wire()`` gives)."""
    if text == "." or fqdn_problems(text):
        return None
    return wire.plain_name_wire(text)


def _a_fast(data: str) -> bytes | None:
    if not _IPV4_RE.match(data):
        return None
    return bytes(map(int, data.split(".")))


def _aaaa_fast(data: str) -> bytes | None:
    if not _IPV6_HEX_RE.match(data) or ":::" in data or data.count("::") > 1:
        return None
    if data.endswith(":") and not data.endswith("::"):
        return None
    if data.startswith(":") and not data.startswith("::"):
        return None
    if "::" in data:
        if data.count(":") > 8 or (data.count(":") == 8 and not (
                data.startswith("::") or data.endswith("::"))):
            return None
    elif data.count(":") != 7:
        return None
    try:
        return socket.inet_pton(socket.AF_INET6, data)
    except OSError:
        return None


def _mx_fast(data: str) -> bytes | None:
    pref, sep, exchange = data.partition(" ")
    if not sep or not _CANONICAL_UINT_RE.match(pref):
        return None
    value = int(pref)
    target = _plain_fqdn_wire(exchange) if value <= 65535 else None
    return None if target is None else _U16.pack(value) + target


def _srv_fast(data: str) -> bytes | None:
    parts = data.split(" ")
    if len(parts) != 4 or not all(_UINT_RE.match(p) for p in parts[:3]):
        return None
    numbers = [int(p) for p in parts[:3]]
    target = _plain_fqdn_wire(parts[3]) if max(numbers) <= 65535 else None
    return None if target is None else _U16X3.pack(*numbers) + target


def _txt_fast(data: str) -> bytes | None:
    """``"..." "..."`` without escapes: the character-strings, length-prefixed."""
    if not _SIMPLE_QUOTED_RE.match(data):
        return None
    strings = [s.encode() for s in data[1:-1].split('" "')]
    if any(len(s) > 255 for s in strings):
        return None
    return b"".join(bytes((len(s),)) + s for s in strings)


def _a(data: str, rs_name: str) -> bytes:
    fast = _a_fast(data)
    if fast is not None:
        return fast
    return _a_dns(data, rs_name)


def _a_dns(data: str, rs_name: str) -> bytes:
    try:
        return dns.ipv4.inet_aton(data)
    except dns.exception.SyntaxError:
        raise ValueError("not an IPv4 address in dotted-quad form") from None


def _aaaa(data: str, rs_name: str) -> bytes:
    fast = _aaaa_fast(data)
    if fast is not None:
        return fast
    return _aaaa_dns(data, rs_name)


def _aaaa_dns(data: str, rs_name: str) -> bytes:
    try:
        return dns.ipv6.inet_aton(data)
    except dns.exception.SyntaxError:
        raise ValueError("not an IPv6 address") from None


def _domain(data: str, rs_name: str) -> bytes:
    fast = _plain_fqdn_wire(data)
    if fast is not None:
        return fast
    return _domain_dns(data, rs_name)


def _domain_dns(data: str, rs_name: str) -> bytes:
    return _name(data, "name").to_wire()


def _mx(data: str, rs_name: str) -> bytes:
    fast = _mx_fast(data)
    if fast is not None:
        return fast
    return _mx_dns(data, rs_name)


def _mx_dns(data: str, rs_name: str) -> bytes:
    pref, exchange = _fields(data, 2, "<preference> <exchange.>")
    pref_i = _uint(pref, "preference", 65535, canonical=True)
    target = _name(exchange, "exchange", allow_root=True)
    return dns.rdtypes.ANY.MX.MX(_IN, dns.rdatatype.MX, pref_i, target).to_wire()


def _srv(data: str, rs_name: str) -> bytes:
    fast = _srv_fast(data)
    if fast is not None:
        return fast
    return _srv_dns(data, rs_name)


def _srv_dns(data: str, rs_name: str) -> bytes:
    prio, weight, port, target = _fields(data, 4, "<priority> <weight> <port> <target.>")
    numbers = [_uint(value, what, 65535)
               for value, what in ((prio, "priority"), (weight, "weight"), (port, "port"))]
    return dns.rdtypes.IN.SRV.SRV(
        _IN, dns.rdatatype.SRV, *numbers, _name(target, "target", allow_root=True)).to_wire()


def _txt_strings(data: str) -> list[bytes]:
    """Designate's TXT/SPF quoting rules; returns the character-strings as bytes."""
    if "\n" in data or "\r" in data:
        raise ValueError("newlines are not allowed")
    if data.endswith("\\"):
        raise ValueError("may not end with a backslash")
    if data.startswith('"'):
        if len(data) < 2 or not data.endswith('"'):
            raise ValueError("unbalanced double quotes")
        if not _QUOTED_TXT_RE.match(data):
            raise ValueError('double quotes inside a string must be escaped as \\"')
        return [_unescape(chunk) for chunk in _QUOTED_CHUNK_RE.findall(data)]
    if not _UNQUOTED_TXT_RE.match(data):
        if data.endswith('"'):
            raise ValueError("unbalanced double quotes")
        if not data or any(c.isspace() for c in data):
            raise ValueError("whitespace is only allowed inside double quotes")
        raise ValueError('double quotes inside a string must be escaped as \\"')
    return [_unescape(data)]


def _txt(data: str, rs_name: str) -> bytes:
    fast = _txt_fast(data)
    if fast is not None:
        return fast
    return _txt_dns(data, rs_name)


def _txt_dns(data: str, rs_name: str) -> bytes:
    strings = _txt_strings(data)
    if any(len(s) > 255 for s in strings):
        raise ValueError('strings over 255 characters must be split into "..." "..." chunks')
    return dns.rdtypes.ANY.TXT.TXT(_IN, dns.rdatatype.TXT, strings).to_wire()


def _spf(data: str, rs_name: str) -> bytes:
    # No split rule for SPF: long strings are cut into 255-octet chunks on the wire (RFC 7208 3.3).
    chunks = [s[i:i + 255] for s in _txt_strings(data) for i in range(0, max(len(s), 1), 255)]
    return dns.rdtypes.ANY.SPF.SPF(_IN, dns.rdatatype.SPF, chunks).to_wire()


def _sshfp(data: str, rs_name: str) -> bytes:
    algo, fptype, fingerprint = _fields(data, 3, "<algorithm> <fp_type> <fingerprint>")
    _uint(algo, "algorithm", 4, canonical=True)
    _uint(fptype, "fingerprint type", 2, canonical=True)
    if not _SSHFP_FP_RE.match(fingerprint):
        raise ValueError("fingerprint must be 10-40 or 64 hexadecimal characters")
    return _from_text("SSHFP", data)


def _soa(data: str, rs_name: str) -> bytes:
    mname, rname, *numbers = _fields(data, 7, "<mname.> <rname.> <serial> <refresh> ...")
    _name(mname, "mname")
    if not rname.endswith("."):
        raise ValueError("rname must be fully qualified, ending with a dot")
    _uint(numbers[0], "serial", 4294967295)
    for value in numbers[1:]:
        _uint(value, "SOA timer", 2147483647)
    return _from_text("SOA", data)


def _naptr(data: str, rs_name: str) -> bytes:
    order, pref, flags, service, regexp, replacement = _fields(
        data, 6, "<order> <preference> <flags> <service> <regexp> <replacement.>")
    order_i = _uint(order, "order", 65535)
    pref_i = _uint(pref, "preference", 65535)
    flags, service, regexp = _unquote(flags), _unquote(service), _unquote(regexp)
    if not _NAPTR_FLAGS_RE.match(flags):
        raise ValueError("flags may only contain A, P, S and U")
    if len(service) > 255 or not _NAPTR_SERVICE_RE.match(service):
        raise ValueError("invalid service")
    if len(regexp) > 255 or (regexp and not _NAPTR_REGEXP_RE.match(regexp)):
        raise ValueError("invalid regexp")
    target = _name(replacement, "replacement", allow_root=True)
    return dns.rdtypes.IN.NAPTR.NAPTR(
        _IN, dns.rdatatype.NAPTR, order_i, pref_i, _unescape(flags), _unescape(service),
        _unescape(regexp), target).to_wire()


def _caa_domain(domain: str) -> None:
    if fqdn_problems(domain.strip() + "."):
        raise ValueError(f"'{domain}' is not a valid domain")


def _caa(data: str, rs_name: str) -> bytes:
    parts = data.split(" ", 2)
    if len(parts) != 3:
        raise ValueError("expected '<flags> <tag> <value>'")
    flags, tag, value = parts[0], parts[1], _unquote(parts[2])
    if flags not in ("0", "1"):
        raise ValueError("flags must be 0 or 1")
    if tag in ("issue", "issuewild"):
        issuer, *params = value.split(";")
        if issuer.strip() or not params:  # "; ..." alone means "no CA may issue" (RFC 8659)
            _caa_domain(issuer)
        for param in params:
            if param.strip() and not _CAA_KVP_RE.match(param):
                raise ValueError(f"'{param.strip()}' is not a valid key=value pair")
    elif tag == "iodef":
        match = _CAA_MAILTO_RE.match(value) or _CAA_HTTP_RE.match(value)
        if not match:
            raise ValueError("iodef must be a mailto: address or an http(s):// URL")
        _caa_domain(match.group(1))
    else:
        raise ValueError("tag must be 'issue', 'issuewild' or 'iodef'")
    return dns.rdtypes.ANY.CAA.CAA(
        _IN, dns.rdatatype.CAA, int(flags), tag.encode(), value.encode()).to_wire()


def _mnemonic_or_uint(text: str, known: dict[str, int], what: str, maximum: int) -> int:
    if text in known:
        return known[text]
    if _UINT_RE.match(text):
        return _uint(text, what, maximum)
    raise ValueError(f"{what} '{text}' is not a known mnemonic or a number")


def _cert(data: str, rs_name: str) -> bytes:
    parts = data.split(" ", 3)
    if len(parts) != 4:
        raise ValueError("expected '<type> <key_tag> <algorithm> <certificate>'")
    ctype, key_tag, algo, cert = parts
    ctype_i = _mnemonic_or_uint(ctype, _CERT_TYPES, "certificate type", 65535)
    key_tag_i = _uint(key_tag, "key tag", 65535)
    algo_i = _mnemonic_or_uint(algo, _CERT_ALGOS, "algorithm", 255)
    try:
        raw = base64.b64decode(cert.replace(" ", ""), validate=True)
    except binascii.Error as exc:
        raise ValueError("certificate is not valid base64") from exc
    return dns.rdtypes.ANY.CERT.CERT(
        _IN, dns.rdatatype.CERT, ctype_i, key_tag_i, algo_i, raw).to_wire()


def _svcb_like(rtype: str, keys: frozenset[str]) -> Callable[[str, str], bytes]:
    def convert(data: str, rs_name: str) -> bytes:
        parts = data.split(" ")
        if len(parts) < 2:
            raise ValueError("expected '<priority> <target.> [key=value ...]'")
        _uint(parts[0], "priority", 65535)
        _name(parts[1], "target", allow_root=True)
        params: dict[str, str] = {}
        for param in parts[2:]:
            key, sep, value = param.partition("=")
            if key not in keys:
                raise ValueError(f"unsupported parameter '{key}'")
            if key in params:
                raise ValueError(f"duplicate parameter '{key}'")
            if not sep and key != "no-default-alpn":
                raise ValueError(f"missing '=' in '{param}'")
            params[key] = _unquote(value)
        _check_svc_params(params, rtype, rs_name)
        return _from_text(rtype, data)
    return convert


def _check_svc_params(params: dict[str, str], rtype: str, rs_name: str) -> None:
    """Designate's SvcParam rules on top of dnspython's (which validates ech/hints/mandatory)."""
    alpn = params.get("alpn")
    if alpn is not None:
        bad = [v for v in alpn.split(",") if v not in _ALPN_VALUES]
        if bad:
            raise ValueError(f"alpn '{bad[0]}' is not one of {', '.join(sorted(_ALPN_VALUES))}")
    if "no-default-alpn" in params and alpn is None:
        raise ValueError("no-default-alpn requires alpn")
    if "port" in params:
        _uint(params["port"], "port", 65535)
    if "ech" in params and "\\" in params["ech"]:
        raise ValueError("ech may not contain escapes")
    mandatory = params.get("mandatory")
    if mandatory is not None and any(k not in params for k in mandatory.split(",")):
        raise ValueError("mandatory lists a parameter that is not present")
    dohpath = params.get("dohpath")
    if dohpath is not None and not (
            dohpath.startswith("/") and len(dohpath) >= 7 and "{?dns}" in dohpath):
        raise ValueError("dohpath must be relative, at least 7 characters, contain '{?dns}'")
    if (rtype == "SVCB" and dohpath is None and alpn is not None
            and "_dns" in rs_name.lower().split(".")
            and {"h2", "h3"} & set(alpn.split(","))):
        raise ValueError("an SVCB for _dns with alpn h2 or h3 requires dohpath")


def _tlsa(data: str, rs_name: str) -> bytes:
    fields = data.replace("(", " ").replace(")", " ").split()
    if len(fields) < 4:
        raise ValueError("expected '<usage> <selector> <matching_type> <hex>'")
    usage = _uint(fields[0], "usage", 255)
    selector = _uint(fields[1], "selector", 255)
    mtype = _uint(fields[2], "matching type", 255)
    cert = "".join(fields[3:])
    if len(cert) % 2 or not _HEX_RE.match(cert):
        raise ValueError("certificate data must be hexadecimal of even length")
    expected = _TLSA_HASH_LEN.get(mtype)
    if expected is not None and len(cert) != expected:
        raise ValueError(f"matching type {mtype} needs exactly {expected} hex characters")
    return dns.rdtypes.ANY.TLSA.TLSA(
        _IN, dns.rdatatype.TLSA, usage, selector, mtype, bytes.fromhex(cert)).to_wire()


_CONVERTERS: dict[str, Callable[[str, str], bytes]] = {
    "A": _a, "AAAA": _aaaa, "CNAME": _domain, "NS": _domain, "PTR": _domain, "MX": _mx,
    "SRV": _srv, "TXT": _txt, "SPF": _spf, "SSHFP": _sshfp, "SOA": _soa, "NAPTR": _naptr,
    "CAA": _caa, "CERT": _cert, "TLSA": _tlsa,
    "SVCB": _svcb_like("SVCB", _SVCB_KEYS), "HTTPS": _svcb_like("HTTPS", _HTTPS_KEYS),
}
# The converters without their fast paths (the reference the fast paths are tested against).
_DNS_CONVERTERS: dict[str, Callable[[str, str], bytes]] = {
    **_CONVERTERS, "A": _a_dns, "AAAA": _aaaa_dns, "CNAME": _domain_dns, "NS": _domain_dns,
    "PTR": _domain_dns, "MX": _mx_dns, "SRV": _srv_dns, "TXT": _txt_dns,
}
_MAX_RECORDS = {"CNAME": 1}


# --- public API ------------------------------------------------------------------------------
def check_type(rtype: object) -> str:
    """Return ``rtype`` if it is a supported (uppercase) type, else raise InvalidObject."""
    if isinstance(rtype, str) and rtype in _CONVERTERS:
        return rtype
    raise InvalidObject.single(["type"], f"{rtype!r} is not one of {sorted(SUPPORTED_TYPES)}",
                               "enum", sorted(SUPPORTED_TYPES))


def parse_records(rtype: str, rs_name: str, records: object) -> list[ParsedRecord]:
    """Validate a recordset's ``records`` list and convert each entry to wire format.

    Duplicate strings are collapsed (first occurrence wins). Every problem is reported in one
    :class:`InvalidObject`, each at path ``["records", i]`` (``i`` indexes the submitted list).
    The recordset name itself is checked by :func:`dnsaas.names.recordset_name_problems`.
    """
    convert = _CONVERTERS[check_type(rtype)]
    if not isinstance(records, list):
        raise InvalidObject.single(["records"], f"{records!r} is not of type 'array'",
                                   "type", "array")
    keep_raw = rtype == "TLSA"  # stored exactly as submitted
    seen: set[str] = set()
    parsed: list[ParsedRecord] = []
    errors: list[dict[str, object]] = []
    for i, item in enumerate(records):
        if not isinstance(item, str):
            errors.append(error_entry(["records", i], f"{item!r} is not of type 'string'",
                                      "type", "string"))
            continue
        data = item if keep_raw else item.strip()
        if data in seen:
            continue
        seen.add(data)
        try:
            parsed.append(ParsedRecord(data, convert(data, rs_name)))
        except (ValueError, dns.exception.DNSException) as exc:
            message = f"'{data}' is not a '{rtype}' Record"
            detail = str(exc)
            errors.append(error_entry(["records", i], f"{message}: {detail}" if detail
                                      else message, "format", [rtype]))
    limit = _MAX_RECORDS.get(rtype)
    if limit is not None and len(seen) > limit:
        errors.append(error_entry(["records"], f"{rtype} recordsets may not have more than "
                                  f"{limit} record", "maxItems", limit))
    if errors:
        raise InvalidObject(errors=errors)
    return parsed


def parse_record_pairs(rtype: str, rs_name: str, records: object) -> list[tuple[str, bytes]]:
    """:func:`parse_records` as (data, wire) pairs, with a shortcut for the one-record
    recordsets that make up most zone files (same checks; errors come from parse_records)."""
    if isinstance(records, list) and len(records) == 1 and type(records[0]) is str:
        convert = _CONVERTERS.get(rtype)
        if convert is not None:
            data = records[0] if rtype == "TLSA" else records[0].strip()
            try:
                return [(data, convert(data, rs_name))]
            except (ValueError, dns.exception.DNSException):
                pass  # parse_records words the error
    return [(p.data, p.wire) for p in parse_records(rtype, rs_name, records)]


def rdata_to_wire(rtype: str, text: str, origin: str | None = None) -> bytes:
    """Uncompressed wire rdata for ``text``.

    Without ``origin`` the text is API record data and gets the same checks and conversion as
    :func:`parse_records` (``ValueError``/``DNSException`` if invalid). With ``origin`` it is
    zone-file presentation format, parsed by dnspython with relative names made absolute.
    """
    if origin is None:
        return _CONVERTERS[check_type(rtype)](text if rtype == "TLSA" else text.strip(), "")
    rdata = dns.rdata.from_text(_IN, rtype, text, dns.name.from_text(origin), relativize=False)
    return rdata.to_wire()


def wire_to_text(rtype: str, wire: bytes) -> str:
    """Presentation-format text (absolute names) of uncompressed wire rdata."""
    return dns.rdata.from_wire(_IN, rtype, wire, 0, len(wire)).to_text()
