"""Byte-level helpers for assembling DNS messages without dnspython objects.

Names handled here are uncompressed wire names (as stored in the database and produced by
``dnsaas.wire.name_wire``). Compression is only ever a pointer to the question name at offset
12, which every response carries first, so the helpers never need a compression table.
"""

from __future__ import annotations

import struct
from functools import lru_cache

HEADER = struct.Struct("!HHHHHH")
RR_FIXED = struct.Struct("!HHIH")
QTAIL = struct.Struct("!HH")
QNAME_OFFSET = 12
POINTER = 0xC000 | QNAME_OFFSET

# header flag bits
QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100


@lru_cache(maxsize=131072)
def text_to_wire(name: str) -> bytes:
    """Uncompressed wire form of an absolute, lowercase text name (``"a.b."``)."""
    from dnsaas.wire import name_wire

    return name_wire(name)


def wire_labels(wire: bytes) -> list[int]:
    """Offsets at which each label of an uncompressed wire name starts (root excluded)."""
    offsets, i = [], 0
    while wire[i]:
        offsets.append(i)
        i += wire[i] + 1
    return offsets


def compress_owner(owner: bytes, qname: bytes) -> bytes:
    """``owner`` (lowercase uncompressed wire) using a pointer into the question name.

    ``qname`` is the lowercase question name as it sits at offset 12. If ``owner`` equals a
    suffix of the question name it becomes one pointer; if the question name is a suffix of
    ``owner`` the extra labels are kept and the rest is a pointer; otherwise it stays as is.
    """
    if owner == qname:
        return b"\xc0\x0c"
    lq, lo = len(qname), len(owner)
    if lo < lq:
        if qname.endswith(owner) and lo > 1:
            off = lq - lo
            if off in wire_labels(qname):
                return struct.pack("!H", 0xC000 | (QNAME_OFFSET + off))
        return owner
    if owner.endswith(qname) and lq > 1:
        off = lo - lq
        if off in wire_labels(owner):
            return owner[:off] + b"\xc0\x0c"
    return owner


def header(msg_id: int, flags: int, qd: int, an: int, ns: int, ar: int) -> bytes:
    """A 12-byte DNS header."""
    return HEADER.pack(msg_id, flags, qd, an, ns, ar)


def rr(owner: bytes, rtype: int, ttl: int, rdata: bytes, rclass: int = 1) -> bytes:
    """One resource record, owner given in (possibly compressed) wire form."""
    return owner + RR_FIXED.pack(rtype, rclass, ttl, len(rdata)) + rdata


def iter_rrs(blob: bytes) -> list[tuple[bytes, int, int, int, bytes, bytes]]:
    """Split concatenated uncompressed RRs (the journal format).

    Returns ``(owner_wire, type, class, ttl, rdata, rr_bytes)`` per record.
    """
    out = []
    i, n = 0, len(blob)
    while i < n:
        start = i
        while blob[i]:
            i += blob[i] + 1
        i += 1
        owner = blob[start:i]
        rtype, rclass, ttl, rdlen = RR_FIXED.unpack_from(blob, i)
        i += 10
        rdata = blob[i:i + rdlen]
        i += rdlen
        out.append((owner, rtype, rclass, ttl, rdata, blob[start:i]))
    return out


def soa_serial(rdata: bytes) -> int:
    """The serial of SOA wire rdata (two uncompressed names, then five 32-bit values)."""
    i = 0
    for _ in range(2):
        while rdata[i]:
            i += rdata[i] + 1
        i += 1
    return int(struct.unpack_from("!I", rdata, i)[0])


def soa_minimum(rdata: bytes) -> int:
    """The MINIMUM field of SOA wire rdata."""
    return int(struct.unpack_from("!I", rdata, len(rdata) - 4)[0])


def serial_gt(a: int, b: int) -> bool:
    """RFC 1982: ``a`` is greater than ``b`` in 32-bit serial arithmetic."""
    return a != b and ((a - b) & 0xFFFFFFFF) < 0x80000000


def wire_to_text(wire: bytes) -> str:
    """Lowercase text form of an uncompressed wire name (``b"\\x01a\\x00"`` → ``"a."``)."""
    import dns.name

    return str(dns.name.from_wire(wire, 0)[0]).lower()
