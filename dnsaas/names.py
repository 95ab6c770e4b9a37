"""DNS-name, e-mail and TTL validation (designate-api.md §1.1, §1.2).

Pure functions. The ``*_problems`` functions return human-readable messages; an empty list
means the value is valid. Callers choose the error class (``InvalidZoneName``, ``InvalidObject``…).
"""

from __future__ import annotations

import re

MAX_NAME_LEN = 254  # text form incl. trailing dot; 255 octets on the wire (Designate: < 255)
MAX_LABEL_LEN = 63
MAX_EMAIL_LEN = 255
MAX_TTL = 2147483647

_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_LABEL_RE = re.compile(_LABEL + r"\Z")
# Whole-name fast paths: one regex match for the common, valid case.
_FQDN_RE = re.compile(rf"(?:{_LABEL}\.)+\Z")
_TLD_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\Z")
_TLSA_PORT_RE = re.compile(r"_(0|[1-9][0-9]{0,4})\Z")


def _label_problem(label: str) -> str | None:
    """Why ``label`` is not a valid (non-wildcard) label, or None."""
    if not label:
        return "empty label (consecutive dots)"
    if len(label) > MAX_LABEL_LEN:
        return f"label '{label[:20]}…' is longer than {MAX_LABEL_LEN} characters"
    if _LABEL_RE.match(label):
        return None
    if label.startswith("-") or label.endswith("-"):
        return f"label '{label}' may not start or end with '-'"
    return f"label '{label}' may only contain letters, digits, '_' and '-'"


def _labels_problems(labels: list[str]) -> list[str]:
    return [p for p in map(_label_problem, labels) if p]


def fqdn_problems(name: str, *, allow_wildcard: bool = False, allow_root: bool = False
                  ) -> list[str]:
    """Problems of an absolute host name such as ``www.example.com.``.

    ``allow_wildcard`` permits a leading ``*`` label; ``allow_root`` permits ``.`` itself.
    """
    if not isinstance(name, str):
        return ["must be a string"]
    if name == ".":
        return [] if allow_root else ["the root name '.' is not allowed here"]
    if len(name) <= MAX_NAME_LEN and _FQDN_RE.match(name):
        return []
    problems: list[str] = []
    if not name.endswith("."):
        problems.append("must be fully qualified, ending with a dot")
    if len(name) > MAX_NAME_LEN:
        problems.append(f"longer than {MAX_NAME_LEN} characters")
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    if allow_wildcard and labels and labels[0] == "*":
        labels = labels[1:]
        if not labels:
            problems.append("a wildcard needs a name below it")
    problems += _labels_problems(labels)
    return problems


def zone_name_problems(name: str) -> list[str]:
    """Problems of a zone name: FQDN, valid labels, at least 2 labels, no wildcard."""
    if not isinstance(name, str):
        return ["must be a string"]
    if "*" in name:
        return ["wildcards are not allowed in zone names"]
    problems = fqdn_problems(name)
    if not problems and name.count(".") < 2:
        problems.append("must have at least two labels, e.g. 'example.com.'")
    return problems


def recordset_name_problems(name: str, rtype: str) -> list[str]:
    """Problems of a recordset name for a recordset of type ``rtype``.

    A leading ``*`` label is allowed except for NS. SRV names must start with two
    underscore labels (``_svc._proto.``); TLSA names with ``_<port>._<proto>.``.
    """
    if not isinstance(name, str):
        return ["must be a string"]
    problems = fqdn_problems(name, allow_wildcard=rtype != "NS")
    if problems:
        if rtype == "NS" and name.startswith("*"):
            problems.insert(0, "NS recordsets may not have a wildcard name")
        return problems
    labels = name.split(".")
    if rtype == "SRV":
        if len(labels) < 4 or not (labels[0].startswith("_") and labels[1].startswith("_")):
            problems.append("SRV names must start with '_service._proto.'")
    elif rtype == "TLSA":
        port_ok = len(labels) >= 4 and _TLSA_PORT_RE.match(labels[0]) is not None
        if not port_ok or int(labels[0][1:]) > 65535 or not labels[1].startswith("_") \
                or len(labels[1]) < 2:
            problems.append("TLSA names must start with '_<port>._<proto>.', port <= 65535")
    return problems


def tld_name_problems(name: str) -> list[str]:
    """Problems of a TLD such as ``com`` or ``co.uk`` (no trailing dot)."""
    if not isinstance(name, str):
        return ["must be a string"]
    if len(name) <= MAX_NAME_LEN and _TLD_RE.match(name):
        return []
    if name.endswith("."):
        return ["a TLD has no trailing dot"]
    problems = [f"longer than {MAX_NAME_LEN} characters"] if len(name) > MAX_NAME_LEN else []
    return problems + _labels_problems(name.split("."))


def in_zone(name: str, zone: str) -> bool:
    """True if ``name`` is ``zone`` itself or below it (case-insensitive)."""
    name, zone = name.lower(), zone.lower()
    return name == zone or zone == "." or name.endswith("." + zone)


def is_subdomain(child: str, parent: str) -> bool:
    """True if ``child`` is strictly below ``parent`` (case-insensitive)."""
    return child.lower() != parent.lower() and in_zone(child, parent)


def parent_names(name: str) -> list[str]:
    """All proper ancestors with at least one label, nearest first.

    ``'a.b.example.com.'`` → ``['b.example.com.', 'example.com.', 'com.']``.
    """
    labels = name.rstrip(".").split(".")
    return [".".join(labels[i:]) + "." for i in range(1, len(labels))]


def email_problems(email: str) -> list[str]:
    """Problems of a zone e-mail: one '@', ≤255 chars, local@domain must form a valid name."""
    if not isinstance(email, str):
        return ["must be a string"]
    if len(email) > MAX_EMAIL_LEN:
        return [f"longer than {MAX_EMAIL_LEN} characters"]
    if email.count("@") != 1:
        return ["must contain exactly one '@'"]
    local, domain = email.split("@")
    if not local or not domain:
        return ["needs both a local part and a domain"]
    problems = fqdn_problems(email.replace("@", ".").rstrip(".") + ".")
    return [f"'{email}' is not a valid e-mail: {p}" for p in problems]


def email_to_rname(email: str) -> str:
    """SOA RNAME for an e-mail: ``host.master@example.com`` → ``host\\.master.example.com.``."""
    local, domain = email.split("@", 1)
    domain = domain if domain.endswith(".") else domain + "."
    return local.replace(".", "\\.") + "." + domain


def ttl_problems(ttl: object, field: str = "ttl") -> list[str]:
    """Problems of a TTL: an integer (not bool) in 0..2147483647."""
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        return [f"{field} must be an integer"]
    if not 0 <= ttl <= MAX_TTL:
        return [f"{field} must be between 0 and {MAX_TTL}"]
    return []
