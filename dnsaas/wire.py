"""DNS wire-format helpers: resource records assembled from stored rdata without dnspython
objects on the hot path."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from functools import lru_cache

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA

_RR_HEADER = struct.Struct("!HHIH")
IN = dns.rdataclass.IN


# Names made of plain labels only (no escapes, no empty labels), with or without the root dot.
_PLAIN_NAME_RE = re.compile(r"(?:[A-Za-z0-9_*-]{1,63}\.)*[A-Za-z0-9_*-]{1,63}\.?\Z")


def plain_name_wire(name: str) -> bytes | None:
    """Wire form of a name of plain ASCII labels (letters, digits, ``-``, ``_``, ``*``; no
    backslashes), built directly; None for anything else (the caller uses dnspython).

    Same bytes as ``dns.name.from_text(name).to_wire()``: labels keep their case and a name
    without the trailing dot is taken relative to the root.
    """
    if not _PLAIN_NAME_RE.match(name):
        return None
    labels = name.encode().split(b".")
    out = bytearray()
    for label in labels:
        out.append(len(label))
        out += label
    if labels[-1]:
        out.append(0)
    if len(out) > 255:
        return None  # too long: dnspython raises NameTooLong
    return bytes(out)


@lru_cache(maxsize=65536)
def name_wire(name: str) -> bytes:
    """Uncompressed wire form of an absolute domain name."""
    fast = plain_name_wire(name)
    if fast is not None:
        return fast
    return dns.name.from_text(name).to_wire()  # type: ignore[return-value]


@lru_cache(maxsize=64)
def type_code(rtype: str) -> int:
    """Numeric RR type of a mnemonic (``"A"`` → 1)."""
    return int(dns.rdatatype.from_text(rtype))


def apex_owner(name: str, zone: str) -> bytes:
    """Owner ``name`` in wire form with the apex of ``zone`` replaced by a pointer to offset 12.

    Every transfer message of a zone carries its question, the apex, at offset 12, so this
    owner is valid in any of them. A name outside the zone stays uncompressed.
    """
    fast = plain_name_wire(name)  # most owners are unique: skip the LRU of name_wire
    full = name_wire(name) if fast is None else fast
    apex = name_wire(zone)
    cut = len(full) - len(apex)
    if cut >= 0 and full[cut:].lower() == apex.lower():
        i = 0
        while i < cut:  # the suffix must start at a label
            i += full[i] + 1
        if i == cut:
            return full[:cut] + b"\xc0\x0c"
    return full


def axfr_head(name: str, zone: str, rtype: str) -> bytes:
    """What every ``records.axfr_rr`` of one recordset starts with: owner (see
    :func:`apex_owner`), type and class; empty for the SOA, which transfers take from the zone."""
    if rtype == "SOA":
        return b""
    return apex_owner(name, zone) + _type_class(rtype)


_TTL_RDLEN = struct.Struct("!IH")


def axfr_rr(head: bytes, ttl: int, rdata: bytes) -> bytes:
    """``records.axfr_rr``: the record as an AXFR answer RR (``head`` from :func:`axfr_head`,
    ``ttl`` the effective one), ready to be concatenated into a message; empty for the SOA."""
    if not head:
        return b""
    return head + _TTL_RDLEN.pack(ttl, len(rdata)) + rdata


@lru_cache(maxsize=64)
def _type_class(rtype: str) -> bytes:
    return struct.pack("!HH", type_code(rtype), IN)


def rr(owner_wire: bytes, rdtype: int, ttl: int, rdata: bytes) -> bytes:
    """One resource record in wire format, class IN, no compression."""
    return owner_wire + _RR_HEADER.pack(rdtype, IN, ttl, len(rdata)) + rdata


def rrset(name: str, rtype: str, ttl: int, rdatas: Iterable[bytes]) -> bytes:
    """All records of one RRset, concatenated."""
    owner, code = name_wire(name), type_code(rtype)
    return b"".join(rr(owner, code, ttl, r) for r in rdatas)


def soa_rdata(mname: str, rname: str, serial: int, refresh: int, retry: int, expire: int,
              minimum: int) -> tuple[str, bytes]:
    """Text and wire rdata of an SOA record (what dnspython's SOA ``to_text``/``to_wire``
    give; the names are converted once per pair, every serial bump only packs numbers)."""
    mtext, rtext, names = _soa_names(mname, rname)
    return (f"{mtext} {rtext} {serial} {refresh} {retry} {expire} {minimum}",
            names + _SOA_INTS.pack(serial, refresh, retry, expire, minimum))


_SOA_INTS = struct.Struct("!IIIII")


@lru_cache(maxsize=1024)
def _soa_names(mname: str, rname: str) -> tuple[str, str, bytes]:
    m, r = dns.name.from_text(mname), dns.name.from_text(rname)
    return m.to_text(), r.to_text(), m.to_wire() + r.to_wire()  # type: ignore[operator]
