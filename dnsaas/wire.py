"""DNS wire-format helpers: resource records assembled from stored rdata without dnspython
objects on the hot path."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from functools import lru_cache

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA

_RR_HEADER = struct.Struct("!HHIH")
IN = dns.rdataclass.IN


@lru_cache(maxsize=65536)
def name_wire(name: str) -> bytes:
    """Uncompressed wire form of an absolute domain name."""
    return dns.name.from_text(name).to_wire()  # type: ignore[return-value]


@lru_cache(maxsize=64)
def type_code(rtype: str) -> int:
    """Numeric RR type of a mnemonic (``"A"`` → 1)."""
    return int(dns.rdatatype.from_text(rtype))


def rr_prefix(name: str, rtype: str) -> bytes:
    """Owner name, type and class of an RR: what ``recordsets.rr_prefix`` stores."""
    return name_wire(name) + struct.pack("!HH", type_code(rtype), IN)


def rr(owner_wire: bytes, rdtype: int, ttl: int, rdata: bytes) -> bytes:
    """One resource record in wire format, class IN, no compression."""
    return owner_wire + _RR_HEADER.pack(rdtype, IN, ttl, len(rdata)) + rdata


def rrset(name: str, rtype: str, ttl: int, rdatas: Iterable[bytes]) -> bytes:
    """All records of one RRset, concatenated."""
    owner, code = name_wire(name), type_code(rtype)
    return b"".join(rr(owner, code, ttl, r) for r in rdatas)


def soa_rdata(mname: str, rname: str, serial: int, refresh: int, retry: int, expire: int,
              minimum: int) -> tuple[str, bytes]:
    """Text and wire rdata of an SOA record."""
    soa = dns.rdtypes.ANY.SOA.SOA(
        IN, dns.rdatatype.SOA, dns.name.from_text(mname), dns.name.from_text(rname),
        serial, refresh, retry, expire, minimum)
    return soa.to_text(), soa.to_wire()
