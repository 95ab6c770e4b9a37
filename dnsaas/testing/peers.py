"""Launch real nameservers (BIND 9, PowerDNS Authoritative, Knot DNS) on loopback for tests.

Every launcher is synchronous and a context manager::

    with BindServer(primary=("127.0.0.1", 5354)) as bind:
        bind.rndc("addzone", "z.test", '{ type secondary; primaries { 127.0.0.1 port 5354; }; };')

``start()`` writes the config into a work dir (a fresh temp dir unless one is given), picks free
loopback ports, starts the daemon in the foreground and polls until both its control channel and
its DNS port (UDP and TCP) answer. ``stop()`` terminates the daemon (SIGKILL after a timeout),
reaps it, and removes the temp dir. Servers still running at interpreter exit are stopped too.

The configs follow shared/peers.md: BIND with ``serial-query-rate 1000`` and ``notify no``,
PowerDNS with its caches off, Knot on a binary confdb so that runtime-added zones survive reloads.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone

from dnsaas.testing.ports import free_port

__all__ = [
    "BIND_SECONDARY_OPTIONS",
    "BindServer",
    "KnotServer",
    "PeerStartError",
    "PowerDNSServer",
    "find_binary",
    "require_binaries",
]

LOOPBACK = "127.0.0.1"
PDNS_SQLITE_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
_SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")

Endpoint = tuple[str, int]
TsigKeys = Mapping[str, tuple[str, str]]
CatalogZones = Sequence[tuple[str, Endpoint]]
ZoneFiles = Mapping[str, "str | os.PathLike[str]"]


class PeerStartError(RuntimeError):
    """A nameserver did not come up (exited early or never became ready)."""


def find_binary(name: str) -> str | None:
    """Return the path of ``name`` on PATH, falling back to the sbin directories."""
    found = shutil.which(name)
    if found:
        return found
    for directory in _SBIN_DIRS:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_binaries(*names: str) -> None:
    """Skip the calling test if a binary is missing; fail instead if DNSAAS_REQUIRE_PEERS=1."""
    import pytest

    missing = [name for name in names if find_binary(name) is None]
    if not missing:
        return
    message = f"missing binaries: {', '.join(missing)}"
    if os.environ.get("DNSAAS_REQUIRE_PEERS") == "1":
        pytest.fail(f"{message} (DNSAAS_REQUIRE_PEERS=1)", pytrace=False)
    pytest.skip(message)


def _zone_file_name(zone: str) -> str:
    """A file-system-safe name for a zone ("example.test." -> "example.test")."""
    name = zone.rstrip(".") or "root"
    return name.replace("/", "_")


def _absolute(zone: str) -> str:
    return zone if zone.endswith(".") else zone + "."


# --- process plumbing ---------------------------------------------------------------------

_LIVE: set[_Server] = set()
_LIVE_LOCK = threading.Lock()
_PR_SET_PDEATHSIG = 1
_libc: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(None, use_errno=True)


def _pdeathsig_preexec(parent_pid: int) -> Any:
    """A preexec_fn that makes the child get SIGTERM when the launching thread dies."""

    def preexec() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent_pid:  # parent already gone between fork and prctl
            os._exit(1)

    return preexec


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


class _Server:
    """Common lifecycle: work dir, ports, spawn, readiness polling, stop."""

    kind: ClassVar[str] = "server"
    binaries: ClassVar[tuple[str, ...]] = ()
    start_attempts: ClassVar[int] = 3

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        primary: Endpoint | None = None,
        tsig_keys: TsigKeys | None = None,
        catalog_zones: CatalogZones | None = None,
        primary_zones: ZoneFiles | None = None,
        *,
        start_timeout: float = 15.0,
    ) -> None:
        self.host: str = LOOPBACK
        self.port: int = 0
        self.primary: Endpoint | None = (primary[0], int(primary[1])) if primary else None
        self.tsig_keys: dict[str, tuple[str, str]] = dict(tsig_keys or {})
        self.catalog_zones: list[tuple[str, Endpoint]] = [
            (name, (ep[0], int(ep[1]))) for name, ep in (catalog_zones or [])
        ]
        self.primary_zones: dict[str, Path] = {
            zone: Path(path).resolve() for zone, path in (primary_zones or {}).items()
        }
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self._given_workdir = Path(workdir).resolve() if workdir is not None else None
        self.workdir: Path | None = None
        self._own_workdir = False
        self._log_path: Path | None = None

    # -- public lifecycle -------------------------------------------------------------------

    @classmethod
    def available(cls) -> bool:
        """True if all binaries this launcher needs are installed."""
        return all(find_binary(name) is not None for name in cls.binaries)

    @property
    def endpoint(self) -> Endpoint:
        """(host, port) of the DNS listener."""
        return (self.host, self.port)

    @property
    def running(self) -> bool:
        """True while the daemon process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Self:
        """Write the config, start the daemon and wait until it is ready. Returns self."""
        if self.running:
            return self
        self._make_workdir()
        try:
            for attempt in range(1, self.start_attempts + 1):
                self._allocate_ports()
                self._write_config()
                try:
                    self._launch()
                    break
                except PeerStartError:
                    retry = attempt < self.start_attempts and self._looks_like_port_clash()
                    self._terminate()
                    if not retry:
                        raise
            self._after_start()
        except BaseException:
            self.stop()
            raise
        return self

    def terminate(self, timeout: float = 5.0) -> None:
        """Stop only the daemon (e.g. to simulate an outage); keep work dir, config and ports.

        :meth:`restart` brings it back with its state (zones added at runtime included).
        """
        self._terminate(timeout)

    def restart(self) -> None:
        """Stop (if running) and start the daemon again with the same work dir, config and ports."""
        if self.workdir is None:
            raise RuntimeError(f"{self.kind} was never started")
        self._terminate()
        try:
            self._launch()
        except PeerStartError:
            self._terminate()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the daemon (kill after ``timeout``), reap it and remove an owned temp dir."""
        self._terminate(timeout)
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self._own_workdir = False
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.host}:{self.port} {state}>"

    # -- queries ----------------------------------------------------------------------------

    def query(
        self, qname: str, rdtype: str = "SOA", *, tcp: bool = False, timeout: float = 1.0
    ) -> dns.message.Message:
        """Send one query to this server and return the response (raises on timeout)."""
        q = dns.message.make_query(qname, rdtype)
        if tcp:
            return dns.query.tcp(q, self.host, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.host, port=self.port, timeout=timeout)

    def query_soa_serial(self, zone: str) -> int | None:
        """The zone's SOA serial over UDP (1 s timeout); None on REFUSED/NXDOMAIN/timeout."""
        try:
            response = self.query(_absolute(zone), "SOA", timeout=1.0)
        except (dns.exception.DNSException, OSError):
            return None
        if response.rcode() != dns.rcode.NOERROR:
            return None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset) > 0:
                return int(rrset[0].serial)
        return None

    # -- hooks for subclasses ---------------------------------------------------------------

    def _allocate_ports(self) -> None:
        self.port = free_port(self.host)

    def _write_config(self) -> None:
        raise NotImplementedError

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _control_ready(self) -> bool:
        return True

    def _after_start(self) -> None:
        """Runs once the daemon is ready (e.g. API calls)."""

    def _extra_logs(self) -> list[Path]:
        return []

    # -- internals --------------------------------------------------------------------------

    def _make_workdir(self) -> None:
        if self.workdir is not None:
            return
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            self.workdir = self._given_workdir
            self._own_workdir = False
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"dnsaas-{self.kind}-"))
            self._own_workdir = True

    @property
    def _dir(self) -> Path:
        assert self.workdir is not None, "not started"
        return self.workdir

    def _launch(self) -> None:
        """Spawn the daemon and poll until it is ready; raise PeerStartError otherwise."""
        self._log_path = self._dir / f"{self.kind}.out"
        preexec = None
        if _libc is not None and threading.current_thread() is threading.main_thread():
            # PDEATHSIG fires when the *thread* that forked exits, so only use it from the
            # main thread (a worker thread may end long before the server should).
            preexec = _pdeathsig_preexec(os.getpid())
        with open(self._log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                close_fds=True,
                preexec_fn=preexec,
            )
        self.pid = self.proc.pid
        with _LIVE_LOCK:
            _LIVE.add(self)
        deadline = time.monotonic() + self.start_timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise PeerStartError(
                    f"{self.kind} exited with status {rc}\n{self.log_tail()}{self._diagnose()}"
                )
            if self._control_ready() and self._dns_ready():
                return
            if time.monotonic() > deadline:
                raise PeerStartError(
                    f"{self.kind} not ready after {self.start_timeout} s\n{self.log_tail()}"
                )
            time.sleep(0.01)

    def _dns_ready(self) -> bool:
        """Any answer over both UDP and TCP means the DNS listener is up."""
        try:
            self.query("version.bind.", "SOA", timeout=0.25)
            self.query("version.bind.", "SOA", tcp=True, timeout=0.25)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    def _terminate(self, timeout: float = 5.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the daemon's output (and its log file, if separate)."""
        chunks = []
        for path in [p for p in [self._log_path, *self._extra_logs()] if p is not None]:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            tail = "\n".join(text.splitlines()[-lines:])
            chunks.append(f"--- {path.name} ---\n{tail}")
        return "\n".join(chunks)

    def _ports(self) -> list[int]:
        """Every TCP/UDP port this server listens on."""
        return [self.port]

    def _diagnose(self) -> str:
        """Extra text for a start failure (e.g. a config checker's output)."""
        return ""

    def _looks_like_port_clash(self) -> bool:
        tail = self.log_tail(200).lower()
        if "in use" in tail or "eaddrinuse" in tail:
            return True
        # Some daemons exit before their logging is set up; check the ports directly.
        return not all(_port_is_free(self.host, port) for port in self._ports())

    def _run(
        self, argv: list[str], check: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, argv, output=result.stdout, stderr=result.stderr
            )
        return result


# --- BIND ---------------------------------------------------------------------------------


#: BIND options for a secondary of dnsaas (each zone's primary is the one mdns address):
#:
#: - ``serial-query-rate 1000``: refresh SOA queries are released by a limiter that ticks every
#:   500 ms at the default of 20 (10 per tick); a NOTIFY waits up to 500 ms for it. At 1000 the
#:   tick is 10 ms (peers.md §3).
#: - ``transfers-in 100`` / ``transfers-per-ns 100``: at most 10 inbound transfers at once, and
#:   2 from one primary, by default. Every zone comes from the same primary here, so 2 is the
#:   real limit: with 20 zones changing at once refreshes queue behind each other for seconds.
#: - ``min-refresh-time 1`` / ``min-retry-time 1``: a zone's own short refresh/retry values apply
#:   (BIND clamps them to at least 300 s by default).
#: - ``notify no``: this BIND is only a secondary; it must not NOTIFY the zones' NS names
#:   (so ``notify-rate``/``startup-notify-rate``, which limit outgoing NOTIFYs, do not apply).
BIND_SECONDARY_OPTIONS = """    notify no;
    serial-query-rate 1000;
    transfers-in 100;
    transfers-per-ns 100;
    min-refresh-time 1;
    min-retry-time 1;
"""


class BindServer(_Server):
    """BIND 9 (``named -f``) with an rndc control channel and ``allow-new-zones yes``.

    ``primary`` is the default primary for :meth:`addzone`. ``tsig_keys`` maps key name to
    (algorithm, base64 secret) and goes into ``keys_conf``. ``catalog_zones`` are consumed
    (RFC 9432) with ``min-update-interval 0``. ``primary_zones`` maps zone name to a zone file
    served as ``type primary`` with ``allow-transfer { 127.0.0.1; }``.

    Refresh and transfer limits are what an operator of secondaries fed by one dnsaas mdns
    should set (:data:`BIND_SECONDARY_OPTIONS`, also in the README): BIND's defaults throttle a
    busy hidden primary to a crawl.
    """

    kind = "bind"
    binaries = ("named", "rndc")
    rndc_key_name: ClassVar[str] = "dnsaas-rndc-key"

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        primary: Endpoint | None = None,
        tsig_keys: TsigKeys | None = None,
        catalog_zones: CatalogZones | None = None,
        primary_zones: ZoneFiles | None = None,
        *,
        start_timeout: float = 15.0,
    ) -> None:
        super().__init__(
            workdir, primary, tsig_keys, catalog_zones, primary_zones, start_timeout=start_timeout
        )
        self.rndc_port: int = 0
        self.rndc_secret = base64.b64encode(secrets.token_bytes(32)).decode()

    @property
    def rndc_conf(self) -> Path:
        """Path of the rndc client config (for ``rndc -c``)."""
        return self._dir / "rndc.conf"

    @property
    def keys_conf(self) -> Path:
        """Path of the file with the rndc key and the TSIG keys (included by named.conf)."""
        return self._dir / "keys.conf"

    @property
    def named_conf(self) -> Path:
        return self._dir / "named.conf"

    def rndc(
        self, *args: str, check: bool = False, timeout: float = 15.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``rndc -c rndc.conf ARGS`` and return the completed process (text output)."""
        return self._run([_binary("rndc"), "-c", str(self.rndc_conf), *args], check, timeout)

    def addzone(
        self,
        zone: str,
        primary: Endpoint | None = None,
        key: str | None = None,
        *,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """``rndc addzone`` a secondary zone transferring from ``primary`` (default: ours)."""
        host, port = primary or self.primary or (None, None)
        if host is None:
            raise ValueError("no primary given")
        key_clause = f' key "{key}"' if key else ""
        spec = (
            f"{{ type secondary; primaries {{ {host} port {port}{key_clause}; }}; "
            f'file "{_zone_file_name(zone)}.db"; }};'
        )
        return self.rndc("addzone", zone, spec, check=check)

    def delzone(self, zone: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``rndc delzone -clean`` (also removes the zone's file)."""
        return self.rndc("delzone", "-clean", zone, check=check)

    def _allocate_ports(self) -> None:
        super()._allocate_ports()
        port = free_port(self.host)
        while port == self.port:
            port = free_port(self.host)
        self.rndc_port = port

    def _argv(self) -> list[str]:
        return [_binary("named"), "-f", "-c", str(self.named_conf)]

    def _ports(self) -> list[int]:
        return [self.port, self.rndc_port]

    def _diagnose(self) -> str:
        # named -f logs errors before its logging config is active to syslog, not stdout.
        checker = find_binary("named-checkconf")
        if checker is None:
            return ""
        result = self._run([checker, str(self.named_conf)], check=False, timeout=30.0)
        out = (result.stdout + result.stderr).strip()
        return f"\n--- named-checkconf ---\n{out or 'config OK'}"

    def _extra_logs(self) -> list[Path]:
        return [self._dir / "named.log"] if self.workdir is not None else []

    def _control_ready(self) -> bool:
        try:
            return self.rndc("status", timeout=5.0).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _write_config(self) -> None:
        d = self._dir
        (d / "catzones").mkdir(exist_ok=True)
        rndc_key = self.rndc_key_name
        keys = [f'key "{rndc_key}" {{ algorithm hmac-sha256; secret "{self.rndc_secret}"; }};']
        for name, (algorithm, secret) in self.tsig_keys.items():
            keys.append(f'key "{name}" {{ algorithm {algorithm}; secret "{secret}"; }};')
        self.keys_conf.write_text("\n".join(keys) + "\n")
        self.rndc_conf.write_text(
            f'include "{self.keys_conf}";\n'
            f'options {{ default-key "{self.rndc_key_name}"; default-server {LOOPBACK}; '
            f"default-port {self.rndc_port}; }};\n"
        )
        catalog_opts = ""
        zones: list[str] = []
        if self.catalog_zones:
            entries = "".join(
                f'        zone "{name}" default-primaries {{ {h} port {p}; }} '
                f'zone-directory "catzones" min-update-interval 0;\n'
                for name, (h, p) in self.catalog_zones
            )
            catalog_opts = f"    catalog-zones {{\n{entries}    }};\n"
            for name, (h, p) in self.catalog_zones:
                zones.append(
                    f'zone "{name}" {{ type secondary; primaries {{ {h} port {p}; }}; '
                    f'file "catalog-{_zone_file_name(name)}.db"; }};'
                )
        for zone, path in self.primary_zones.items():
            zones.append(
                f'zone "{zone}" {{ type primary; file "{path}"; '
                f"allow-transfer {{ {LOOPBACK}; }}; }};"
            )
        zone_block = "\n".join(zones)
        self.named_conf.write_text(
            f"""include "{self.keys_conf}";
controls {{
    inet {LOOPBACK} port {self.rndc_port} allow {{ {LOOPBACK}; }} keys {{ "{rndc_key}"; }};
}};
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ {LOOPBACK}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
{BIND_SECONDARY_OPTIONS}    allow-new-zones yes;
    allow-query {{ {LOOPBACK}; }};
    allow-transfer {{ none; }};
{catalog_opts}}};
{zone_block}
logging {{
    channel main {{ file "{d}/named.log"; severity info; print-time yes; print-category yes; }};
    category default {{ main; }};
    category lame-servers {{ null; }};
}};
"""
        )


# --- PowerDNS -----------------------------------------------------------------------------


class PowerDNSServer(_Server):
    """PowerDNS Authoritative with gsqlite3, the HTTP API, caches off, ``secondary=yes`` and
    ``retrieval-threads=8`` (default 2 transfers at once; busy zones queue behind each other), and
    ``gsqlite3-pragma-synchronous=1`` (no fsync per transfer's commit in WAL mode).

    After start, ``tsig_keys`` are created via the API, each catalog in ``catalog_zones`` as a
    ``Consumer`` zone (then ``axfr-retrieve``), and each of ``primary_zones`` (zone file, parsed
    with dnspython) as a ``Native`` zone. ``primary`` is the default for
    :meth:`add_secondary_zone`.
    """

    kind = "pdns"
    binaries = ("pdns_server",)

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        primary: Endpoint | None = None,
        tsig_keys: TsigKeys | None = None,
        catalog_zones: CatalogZones | None = None,
        primary_zones: ZoneFiles | None = None,
        *,
        start_timeout: float = 15.0,
        xfr_cycle_interval: int = 60,
    ) -> None:
        super().__init__(
            workdir, primary, tsig_keys, catalog_zones, primary_zones, start_timeout=start_timeout
        )
        self.api_port: int = 0
        self.api_key: str = secrets.token_hex(16)
        self.xfr_cycle_interval = xfr_cycle_interval

    @classmethod
    def available(cls) -> bool:
        return super().available() and PDNS_SQLITE_SCHEMA.is_file()

    @property
    def api_url(self) -> str:
        """Base URL of the server resource, e.g. http://127.0.0.1:P/api/v1/servers/localhost."""
        return f"http://{self.host}:{self.api_port}/api/v1/servers/localhost"

    def api(
        self, method: str, path: str = "", body: Any = None, *, check: bool = True
    ) -> tuple[int, Any]:
        """Call the HTTP API (``path`` relative to :attr:`api_url`); returns (status, JSON)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={"X-API-Key": self.api_key, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        payload: Any = None
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
        if check and status >= 400:
            raise RuntimeError(f"PowerDNS API {method} {path} -> {status}: {payload}")
        return status, payload

    def add_secondary_zone(
        self,
        zone: str,
        primary: Endpoint | None = None,
        key: str | None = None,
        *,
        retrieve: bool = True,
    ) -> None:
        """Create a Secondary zone (TSIG via ``slave_tsig_key_ids``) and ``axfr-retrieve`` it."""
        host, port = primary or self.primary or (None, None)
        if host is None:
            raise ValueError("no primary given")
        body: dict[str, Any] = {
            "name": _absolute(zone),
            "kind": "Secondary",
            "masters": [f"{host}:{port}"],
        }
        if key:
            body["slave_tsig_key_ids"] = [_absolute(key)]
        self.api("POST", "/zones", body)
        if retrieve:
            self.api("PUT", f"/zones/{_absolute(zone)}/axfr-retrieve")

    def create_native_zone(self, zone: str, rrsets: Sequence[Mapping[str, Any]]) -> None:
        """Create a Native zone from API-style rrsets (``name``, ``type``, ``ttl``, ``records``)."""
        self.api(
            "POST",
            "/zones",
            {
                "name": _absolute(zone),
                "kind": "Native",
                "nameservers": [],
                "soa_edit_api": "",
                "rrsets": [dict(r) for r in rrsets],
            },
        )

    def _allocate_ports(self) -> None:
        super()._allocate_ports()
        port = free_port(self.host)
        while port == self.port:
            port = free_port(self.host)
        self.api_port = port

    def _argv(self) -> list[str]:
        return [_binary("pdns_server"), f"--config-dir={self._dir}"]

    def _ports(self) -> list[int]:
        return [self.port, self.api_port]

    def _control_ready(self) -> bool:
        try:
            status, _ = self.api("GET", "", check=False)
        except OSError:
            return False
        return status == 200

    def _write_config(self) -> None:
        import sqlite3

        d = self._dir
        db = d / "pdns.sqlite3"
        if not db.exists():
            schema = PDNS_SQLITE_SCHEMA.read_text()
            with contextlib.closing(sqlite3.connect(db)) as conn:
                conn.executescript(schema)
                conn.commit()
        (d / "pdns.conf").write_text(
            f"""launch=gsqlite3
gsqlite3-database={db}
gsqlite3-pragma-synchronous=1
local-address={LOOPBACK}
local-port={self.port}
query-local-address={LOOPBACK}
socket-dir={d}
daemon=no
guardian=no
write-pid=no
disable-syslog=yes
loglevel=6
primary=no
secondary=yes
xfr-cycle-interval={self.xfr_cycle_interval}
retrieval-threads=8
cache-ttl=0
query-cache-ttl=0
negquery-cache-ttl=0
api=yes
api-key={self.api_key}
webserver=yes
webserver-address={LOOPBACK}
webserver-port={self.api_port}
webserver-allow-from=127.0.0.0/8
"""
        )

    def _after_start(self) -> None:
        for name, (algorithm, secret) in self.tsig_keys.items():
            self.api("POST", "/tsigkeys", {"name": name, "algorithm": algorithm, "key": secret})
        for name, (h, p) in self.catalog_zones:
            self.api(
                "POST",
                "/zones",
                {"name": _absolute(name), "kind": "Consumer", "masters": [f"{h}:{p}"]},
            )
            self.api("PUT", f"/zones/{_absolute(name)}/axfr-retrieve")
        for zone, path in self.primary_zones.items():
            self.create_native_zone(zone, _rrsets_from_zone_file(zone, path))


def _rrsets_from_zone_file(zone: str, path: Path) -> list[dict[str, Any]]:
    """Parse a zone file with dnspython into PowerDNS API rrsets."""
    parsed = dns.zone.from_file(str(path), origin=_absolute(zone), relativize=False)
    rrsets = []
    for name, rdataset in parsed.iterate_rdatasets():
        rrsets.append(
            {
                "name": name.to_text(),
                "type": dns.rdatatype.to_text(rdataset.rdtype),
                "ttl": rdataset.ttl,
                "changetype": "REPLACE",
                "records": [{"content": rdata.to_text(), "disabled": False} for rdata in rdataset],
            }
        )
    return rrsets


# --- Knot ---------------------------------------------------------------------------------


class KnotServer(_Server):
    """Knot DNS on a binary confdb (imported from DIR/knot.conf) so runtime zones persist.

    With ``primary`` set, template ``secondary`` (master = primary, notify ACL from the
    primary's address) and, for every key in ``tsig_keys``, ``secondary-tsig-<key>`` exist.
    ``catalog_zones`` are consumed with ``catalog-role: interpret``. ``primary_zones`` are
    served from their files with transfers allowed to 127.0.0.1.
    """

    kind = "knot"
    binaries = ("knotd", "knotc")
    _socket_max = 100  # sun_path is 108 bytes

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        primary: Endpoint | None = None,
        tsig_keys: TsigKeys | None = None,
        catalog_zones: CatalogZones | None = None,
        primary_zones: ZoneFiles | None = None,
        *,
        start_timeout: float = 15.0,
    ) -> None:
        super().__init__(
            workdir, primary, tsig_keys, catalog_zones, primary_zones, start_timeout=start_timeout
        )
        self._conf_lock = threading.Lock()
        self._socket_dir: Path | None = None

    @property
    def socket(self) -> Path:
        """Path of the control socket (for ``knotc -s``)."""
        if self._socket_dir is not None:
            return self._socket_dir / "knot.sock"
        return self._dir / "knot.sock"

    @property
    def confdb(self) -> Path:
        return self._dir / "confdb"

    @property
    def knot_conf(self) -> Path:
        return self._dir / "knot.conf"

    def knotc(
        self, *args: str, check: bool = False, timeout: float = 15.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``knotc -s SOCKET ARGS`` and return the completed process (text output)."""
        argv = [_binary("knotc"), "-C", str(self.confdb), "-s", str(self.socket), *args]
        return self._run(argv, check, timeout)

    def conf_transaction(self, *sets: tuple[str, ...]) -> None:
        """Run ``conf-begin``, one ``conf-set``/``conf-unset`` per item, ``conf-commit``.

        Each item is the knotc argument tuple, e.g. ``("conf-set", "zone[z.test]")``.
        Only one transaction may be open at a time; calls are serialised and aborted on error.
        """
        with self._conf_lock:
            self.knotc("conf-begin", check=True)
            try:
                for item in sets:
                    self.knotc(*item, check=True)
                self.knotc("conf-commit", check=True)
            except BaseException:
                self.knotc("conf-abort")
                raise

    def add_zone(self, zone: str, template: str = "secondary") -> None:
        """Add a zone at runtime using ``template`` (``secondary`` or ``secondary-tsig-<key>``)."""
        z = _absolute(zone)
        self.conf_transaction(
            ("conf-set", f"zone[{z}]"),
            ("conf-set", f"zone[{z}].template", template),
        )

    def remove_zone(self, zone: str) -> None:
        """Remove a runtime-added zone."""
        self.conf_transaction(("conf-unset", f"zone[{_absolute(zone)}]"))

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _argv(self) -> list[str]:
        return [_binary("knotd"), "-C", str(self.confdb)]

    def _control_ready(self) -> bool:
        try:
            return self.knotc("status", timeout=5.0).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _write_config(self) -> None:
        d = self._dir
        zones_dir = d / "zones"
        zones_dir.mkdir(exist_ok=True)
        if len(str(d / "knot.sock")) > self._socket_max and self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="dnsaas-knotc-"))

        def q(value: object) -> str:
            return json.dumps(str(value))  # a JSON string is a valid YAML double-quoted scalar

        common = [
            f"    storage: {q(zones_dir)}",
            "    zonefile-sync: -1",
            "    zonefile-load: none",
            "    journal-content: none",
        ]
        out = [
            "server:",
            f"    rundir: {q(d)}",
            f"    listen: {self.host}@{self.port}",
            "    udp-workers: 2",
            "    tcp-workers: 2",
            "    background-workers: 2",
            "database:",
            f"    storage: {q(d)}",
            "control:",
            f"    listen: {q(self.socket)}",
            "log:",
            "  - target: stdout",
            "    any: info",
        ]
        if self.tsig_keys:
            out.append("key:")
            for name, (algorithm, secret) in self.tsig_keys.items():
                out += [
                    f"  - id: {name}",
                    f"    algorithm: {algorithm}",
                    f"    secret: {q(secret)}",
                ]
        remotes: list[str] = []
        acls: list[str] = []
        templates: list[str] = ["  - id: default", *common]
        zones: list[str] = []
        if self.primary is not None:
            h, p = self.primary
            remotes += ["  - id: primary", f"    address: {h}@{p}"]
            acls += ["  - id: notify-from-primary", f"    address: {h}", "    action: notify"]
            templates += [
                "  - id: secondary",
                *common,
                "    master: primary",
                "    acl: notify-from-primary",
            ]
            for key in self.tsig_keys:
                remotes += [
                    f"  - id: primary-tsig-{key}",
                    f"    address: {h}@{p}",
                    f"    key: {key}",
                ]
                acls += [
                    f"  - id: notify-from-primary-tsig-{key}",
                    f"    address: {h}",
                    f"    key: {key}",
                    "    action: notify",
                ]
                templates += [
                    f"  - id: secondary-tsig-{key}",
                    *common,
                    f"    master: primary-tsig-{key}",
                    f"    acl: notify-from-primary-tsig-{key}",
                ]
        for i, (name, (h, p)) in enumerate(self.catalog_zones):
            remotes += [f"  - id: catalog-{i}", f"    address: {h}@{p}"]
            acls += [f"  - id: notify-from-catalog-{i}", f"    address: {h}", "    action: notify"]
            templates += [
                f"  - id: catalog-member-{i}",
                *common,
                f"    master: catalog-{i}",
                f"    acl: notify-from-catalog-{i}",
            ]
            zones += [
                f"  - domain: {q(_absolute(name))}",
                *common,
                f"    master: catalog-{i}",
                f"    acl: notify-from-catalog-{i}",
                "    catalog-role: interpret",
                f"    catalog-template: catalog-member-{i}",
            ]
        if self.primary_zones:
            acls += [
                "  - id: transfer-to-loopback",
                f"    address: {LOOPBACK}",
                "    action: transfer",
            ]
            for zone, path in self.primary_zones.items():
                zones += [
                    f"  - domain: {q(_absolute(zone))}",
                    f"    file: {q(path)}",
                    "    zonefile-load: whole",
                    "    acl: transfer-to-loopback",
                ]
        for section, items in (
            ("remote", remotes),
            ("acl", acls),
            ("template", templates),
            ("zone", zones),
        ):
            if items:
                out += [f"{section}:", *items]
        self.knot_conf.write_text("\n".join(out) + "\n")
        if self.confdb.exists():  # a retry with new ports: import afresh
            shutil.rmtree(self.confdb)
        self._run(
            [_binary("knotc"), "-C", str(self.confdb), "conf-import", str(self.knot_conf)],
            check=True,
            timeout=30.0,
        )


def _port_is_free(host: str, port: int) -> bool:
    """True if ``port`` can be bound on ``host`` for both TCP and UDP right now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def _binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise FileNotFoundError(f"{name} not found on PATH or in {', '.join(_SBIN_DIRS)}")
    return path
