"""Zone files: read them as BIND writes them (import, designate-api.md §1.5) and write them
(export, §1.6).

Reading uses dnspython's zone-file tokenizer (``dns.tokenizer``: quoting, escapes,
parentheses, comments, line numbers) and follows the line grammar of ``dns.zonefile.Reader``
(``$ORIGIN``, ``$TTL``, omitted owners and TTLs, ``<ttl> <class>`` in either order). The rdata
tokens of each record are turned into API record data (relative names made absolute) and
validated by :func:`dnsaas.records.parse_records`, exactly like an API write, which also gives
the wire form. dnspython's full ``rdata.from_text`` path is used for the SOA only: doing it for
every record and then validating again was several times slower (100k records).

Every error names the line it was found on; nothing is created from a file with an error.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.ttl

from dnsaas.errors import InvalidObject
from dnsaas.names import recordset_name_problems, ttl_problems, zone_name_problems
from dnsaas.records import SUPPORTED_TYPES, parse_record_pairs, wire_to_text

ORIGIN_REQUIRED = "The $ORIGIN statement is required and must be the first statement in the zonefile."
SOA_REQUIRED = "An SOA record is required."
MALFORMED = "Malformed zonefile."
MESSAGE_MAX = 160

_IN = dns.rdataclass.IN
# Fields of the record data that are domain names (made absolute against $ORIGIN).
_NAME_FIELDS: dict[str, tuple[int, ...]] = {
    "CNAME": (0,), "NS": (0,), "PTR": (0,), "MX": (1,), "SRV": (3,), "NAPTR": (5,),
    "SVCB": (1,), "HTTPS": (1,),
}
_QUOTED_TYPES = frozenset({"TXT", "SPF"})


class ZoneFileError(ValueError):
    """A zone file that cannot be imported; ``message`` is what the import task shows."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        text = message if line is None else f"{MALFORMED} Line {line}: {message}"
        self.message = text if len(text) <= MESSAGE_MAX else text[:MESSAGE_MAX - 3] + "..."
        super().__init__(self.message)


@dataclass(slots=True)
class ImportedRRset:
    """One recordset of the file: API name/type/ttl and validated (text, wire) records."""

    name: str
    type: str
    ttl: int | None
    records: list[tuple[str, bytes]]
    line: int

    def as_values(self) -> dict[str, object]:
        """The shape :func:`dnsaas.service.zones.insert_rrsets` takes."""
        return {"name": self.name, "type": self.type, "ttl": self.ttl, "records": self.records}


@dataclass(slots=True)
class ParsedZone:
    """A validated zone file."""

    name: str
    ttl: int
    email: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int
    rrsets: list[ImportedRRset] = field(default_factory=list)
    #: the recordsets as row chunks instead (a :class:`dnsaas.rowprep.PreparedRows`), when a
    #: zone import asked the parse worker to prepare them
    prepared: Any = None

    @property
    def record_count(self) -> int:
        return sum(len(rs.records) for rs in self.rrsets)


# One record of the file: (owner, ttl, type, API record data, line); a tuple, there are many.
_Raw = tuple[str, int, str, str, int]


def _absolute(value: str, origin: str) -> str:
    """A name token made absolute against ``origin`` (``@`` is the origin)."""
    if value == "@":
        return origin
    if value.endswith(".") and not value.endswith("\\."):
        return value
    if "\\" in value:
        return dns.name.from_text(value, dns.name.from_text(origin)).to_text()
    return value + "." + origin if origin != "." else value + "."


Tok = tuple[str, bool]  # (value, was a quoted string)
# A line without any of these is split on blanks exactly as dns.tokenizer would split it.
_SPECIAL = re.compile(r'["();\\]')
# Tokens of a line with plain quoted strings: "quoted" (no escapes), a word, or any other
# character (a comment's ';' ends the line; anything else sends the line to dns.tokenizer).
_LINE_TOKEN = re.compile(r'"([^"\\\r\n]*)"|([^ \t"();\\\r\n]+)|([^ \t])')


def _token_text(token: Tok) -> str:
    return f'"{token[0]}"' if token[1] else token[0]


def _rdata_text(rtype: str, tokens: list[Tok], origin: str) -> str:
    """The API record data for the rdata tokens of one record."""
    if rtype in _QUOTED_TYPES:
        return " ".join(f'"{t[0]}"' for t in tokens)
    if rtype in ("SVCB", "HTTPS"):  # key="value" is tokenized as `key=` + `"value"`
        joined: list[Tok] = []
        for t in tokens:
            if t[1] and joined and not joined[-1][1] and joined[-1][0].endswith("="):
                joined[-1] = (joined[-1][0] + f'"{t[0]}"', False)
            else:
                joined.append(t)
        tokens = joined
    name_fields = _NAME_FIELDS.get(rtype, ())
    if not name_fields and rtype != "SSHFP" and not any(t[1] for t in tokens):
        return " ".join([t[0] for t in tokens])
    parts = [_token_text(t) for t in tokens]
    for i in name_fields:
        if i < len(parts) and not tokens[i][1]:
            parts[i] = _absolute(parts[i], origin)
    if rtype == "SSHFP" and len(parts) > 3:
        parts[2:] = ["".join(parts[2:])]
    return " ".join(parts)


def _ttl(value: str) -> int | None:
    if value.isdigit() and value.isascii():
        return int(value)
    if not value[:1].isdigit():
        return None
    try:
        return int(dns.ttl.from_text(value))
    except dns.ttl.BadTTL:
        return None


def _quoted_line(raw: str) -> list[Tok] | None:
    """Tokens of a one-line entry with plain quoted strings (what dns.tokenizer gives), or None
    when the line needs the tokenizer (escapes, parentheses, unbalanced quotes)."""
    tokens: list[Tok] = []
    for quoted, word, other in _LINE_TOKEN.findall(raw):
        if word:
            tokens.append((word, False))
        elif other:
            if other != ";":
                return None
            break
        else:
            tokens.append((quoted, True))
    return tokens


def _entries(text: str) -> Iterator[tuple[int, bool, list[Tok]]]:
    """Logical entries of the file: (first line, owner omitted, tokens), comments dropped.

    Lines without quotes, parentheses, comments or escapes are split on blanks; any other
    entry (which may span lines inside parentheses) is read by ``dns.tokenizer``.
    """
    stream = io.StringIO(text)
    pos, line, size = 0, 1, len(text)
    while pos < size:
        nl = text.find("\n", pos)
        end = size if nl < 0 else nl
        raw = text[pos:end]
        simple: list[Tok] | None = None
        if not _SPECIAL.search(raw):
            simple = [(w, False) for w in raw.split()]
        elif '"' in raw:
            simple = _quoted_line(raw)
        if simple is not None:
            if simple:
                yield line, raw[0] in " \t", simple
            pos, line = end + 1, line + 1
            continue
        stream.seek(pos)
        tok = dns.tokenizer.Tokenizer(stream)
        tok.line_number = line
        tokens: list[Tok] = []
        try:
            first = tok.get(want_leading=True)
            leading = first.is_whitespace()
            t = first if not leading else tok.get()
            while not t.is_eol_or_eof():
                tokens.append((t.value, t.is_quoted_string()))
                t = tok.get()
        except dns.exception.DNSException as exc:
            raise ZoneFileError(str(exc) or "syntax error", line) from None
        if tokens:
            yield line, leading, tokens
        if t.is_eof():
            return
        pos, line = stream.tell(), tok.line_number


Progress = Callable[[int], None]
_PROGRESS_EVERY = 8192


def _read(text: str, max_records: int | None, progress: Progress | None = None
          ) -> tuple[list[_Raw], tuple[_Raw, dns.rdata.Rdata] | None]:
    """The raw records of the file and its SOA (parsed by dnspython); ``progress`` gets
    0..50 (percent of the whole parse) as lines are read."""
    lines_total = max(text.count("\n"), 1)
    origin: str | None = None
    default_ttl: int | None = None
    last_ttl: int | None = None
    last_name: str | None = None
    out: list[_Raw] = []
    soa: tuple[_Raw, dns.rdata.Rdata] | None = None
    line = 1
    entries = _entries(text)
    try:
        for line, leading, tokens in entries:
            head = tokens[0][0]
            if not leading and head.startswith("$") and not tokens[0][1]:
                directive = head.upper()
                if directive == "$TTL":
                    ttl = _ttl(tokens[1][0]) if len(tokens) == 2 else None
                    if ttl is None:
                        raise ZoneFileError("bad $TTL", line)
                    default_ttl = ttl
                elif directive == "$ORIGIN":
                    if len(tokens) != 2:
                        raise ZoneFileError("bad $ORIGIN", line)
                    base = dns.name.from_text(origin) if origin else None
                    name = dns.name.from_text(tokens[1][0], base)
                    if not name.is_absolute():
                        raise ZoneFileError(ORIGIN_REQUIRED)
                    origin = name.to_text().lower()
                else:
                    raise ZoneFileError(f"the {directive} directive is not supported", line)
                continue
            if origin is None:
                raise ZoneFileError(ORIGIN_REQUIRED)
            i = 0
            if leading:
                if last_name is None:
                    raise ZoneFileError("the first record has no owner name", line)
            else:
                last_name = _absolute(head, origin).lower()
                i = 1
            # [ttl] [class] or [class] [ttl], then the type
            ttl: int | None = None
            for _ in range(2):
                if i >= len(tokens):
                    break
                word = tokens[i][0]
                if ttl is None and word.isdigit() and word.isascii():
                    ttl = int(word)
                elif ttl is None and (value := _ttl(word)) is not None:
                    ttl = value
                elif word.upper() == "IN":
                    pass
                elif word.upper() in ("CH", "HS", "CS", "NONE", "ANY"):
                    raise ZoneFileError("only class IN is supported", line)
                else:
                    break
                i += 1
            if i >= len(tokens):
                raise ZoneFileError("a record needs a type and data", line)
            rtype = tokens[i][0].upper()
            if rtype not in SUPPORTED_TYPES:
                raise ZoneFileError(f"record type {tokens[i][0]} is not supported", line)
            data = tokens[i + 1:]
            if not data:
                raise ZoneFileError(f"the {rtype} record has no data", line)
            if ttl is None:
                ttl = default_ttl if default_ttl is not None else last_ttl
            if rtype == "SOA":
                soa_text = " ".join(_token_text(t) for t in data)
                try:
                    rd = dns.rdata.from_text(_IN, "SOA", soa_text, dns.name.from_text(origin),
                                             relativize=False)
                except dns.exception.DNSException as exc:
                    raise ZoneFileError(f"bad SOA: {exc}", line) from None
                if ttl is None:
                    ttl = rd.minimum  # type: ignore[attr-defined]
                if soa is not None:
                    raise ZoneFileError("more than one SOA record", line)
                soa = ((last_name, ttl, "SOA", soa_text, line), rd)
                last_ttl = ttl
                continue
            if ttl is None:
                raise ZoneFileError("missing TTL (no $TTL and no TTL before)", line)
            last_ttl = ttl
            out.append((last_name, ttl, rtype, _rdata_text(rtype, data, origin), line))
            if progress is not None and not len(out) % _PROGRESS_EVERY:
                progress(min(50, line * 50 // lines_total))
            if max_records is not None and len(out) > max_records:
                raise ZoneFileError(f"more than {max_records} records", line)
    except dns.exception.DNSException as exc:
        raise ZoneFileError(str(exc) or "syntax error", line) from None
    return out, soa


def _email(rname: dns.name.Name) -> str:
    """SOA RNAME → e-mail (``host\\.master.example.com.`` → ``host.master@example.com``)."""
    labels = [label.decode() for label in rname.labels if label]
    if len(labels) < 2:
        raise ValueError("the SOA RNAME is not an e-mail address")
    return labels[0] + "@" + ".".join(labels[1:])


def parse_zone(text: str, *, min_ttl: int | None = None, max_records: int | None = None,
               progress: Progress | None = None) -> ParsedZone:
    """Read and validate a zone file; raises :class:`ZoneFileError` naming the line.

    The zone is the owner of the (single) SOA; its TTL is the SOA's TTL. The SOA and the apex
    NS records are dropped (the zone gets its pool's, as Designate does). ``min_ttl``: TTLs
    below it are refused. Recordsets whose TTL equals the zone TTL inherit it (``ttl`` None),
    so an export (which leaves such TTLs out) imports back unchanged. ``progress`` (optional)
    is called now and then with the percentage done.
    """
    raws, soa = _read(text, max_records, progress)
    if soa is None:
        raise ZoneFileError(SOA_REQUIRED)
    (zone, soa_ttl, _, _, soa_line), soa_rd = soa
    problems = zone_name_problems(zone)
    if problems:
        raise ZoneFileError(f"invalid zone name {zone}: {problems[0]}", soa_line)
    try:
        email = _email(soa_rd.rname)  # type: ignore[attr-defined]
    except (ValueError, UnicodeDecodeError) as exc:
        raise ZoneFileError(str(exc), soa_line) from None
    _check_ttl(soa_ttl, soa_line, min_ttl)
    for timer in ("refresh", "retry", "expire", "minimum"):
        if getattr(soa_rd, timer) > 2147483647:
            raise ZoneFileError(f"the SOA {timer} is larger than 2147483647", soa_line)
    # Owner names are lowercase already (_read); the zone is the SOA owner.
    below = "." + zone
    groups: dict[tuple[str, str], list[_Raw]] = {}
    for raw in raws:
        name = raw[0]
        if name != zone and not name.endswith(below) and zone != ".":
            raise ZoneFileError(f"{name} is outside the zone {zone}", raw[4])
        key = (name, raw[2])
        group = groups.get(key)
        if group is None:
            if raw[2] == "NS" and name == zone:
                continue
            groups[key] = [raw]
        else:
            group.append(raw)
    types_at: dict[str, int] = {}
    rrsets: list[ImportedRRset] = []
    good_ttls: set[int] = set()
    step = max(len(groups) // 10, _PROGRESS_EVERY)
    for (name, rtype), items in groups.items():
        if progress is not None and not len(rrsets) % step:
            progress(50 + len(rrsets) * 50 // len(groups))
        first = items[0]
        problems = recordset_name_problems(name, rtype)
        if problems:
            raise ZoneFileError(f"invalid name {name}: {problems[0]}", first[4])
        try:
            pairs = parse_record_pairs(rtype, name, [r[3] for r in items])
        except InvalidObject as exc:
            entry = (exc.errors or [{}])[0]
            path = entry.get("path") or []
            index = path[1] if len(path) > 1 and isinstance(path[1], int) else 0
            bad = items[min(index, len(items) - 1)]
            raise ZoneFileError(str(entry.get("message") or exc.message), bad[4]) from None
        ttl = first[1] if len(items) == 1 else min(r[1] for r in items)
        if ttl not in good_ttls:
            _check_ttl(ttl, first[4], min_ttl)
            good_ttls.add(ttl)
        types_at[name] = types_at.get(name, 0) + 1
        rrsets.append(ImportedRRset(name, rtype, None if ttl == soa_ttl else ttl, pairs,
                                    first[4]))
    for rs in rrsets:
        if rs.type == "CNAME":
            if rs.name == zone:
                raise ZoneFileError("a CNAME is not allowed at the zone apex", rs.line)
            if types_at[rs.name] > 1:
                raise ZoneFileError(f"the CNAME {rs.name} shares its name with other records",
                                    rs.line)
    s = soa_rd
    return ParsedZone(zone, soa_ttl, email, s.serial, s.refresh, s.retry,  # type: ignore[attr-defined]
                      s.expire, s.minimum, rrsets)  # type: ignore[attr-defined]


def _check_ttl(ttl: int, line: int, min_ttl: int | None) -> None:
    problems = ttl_problems(ttl)
    if problems:
        raise ZoneFileError(problems[0], line)
    if min_ttl is not None and ttl < min_ttl:
        raise ZoneFileError(f"TTL is below the minimum: {min_ttl}", line)


# --- export ---------------------------------------------------------------------------------
def render_zone(name: str, ttl: int, soa_rdata: bytes,
                rrsets: Iterable[tuple[str, str, int | None, Iterable[bytes]]]) -> str:
    """A zone file: ``$ORIGIN``, ``$TTL``, the SOA, then ``name [ttl] IN TYPE data`` lines.

    ``rrsets`` are (name, type, ttl or None to inherit ``$TTL``, wire rdatas); the data is
    written in dnspython's canonical presentation form, with absolute names.
    """
    lines = [f"$ORIGIN {name}", f"$TTL {ttl}",
             f"{name} {ttl} IN SOA {wire_to_text('SOA', soa_rdata)}"]
    for rs_name, rtype, rs_ttl, rdatas in rrsets:
        if rtype == "SOA":
            continue
        head = f"{rs_name} IN {rtype}" if rs_ttl is None else f"{rs_name} {rs_ttl} IN {rtype}"
        lines.extend(f"{head} {wire_to_text(rtype, rdata)}" for rdata in rdatas)
    return "\n".join(lines) + "\n"
