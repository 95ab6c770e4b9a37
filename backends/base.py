"""The backend contract: how the worker tells one pool target about a zone.

A backend is an async context manager (``start``/``stop``) with three idempotent operations,
``create_zone``, ``update_zone`` (a no-op unless the driver needs a nudge) and ``delete_zone``,
plus ``health()``. Each driver declares its typed ``Options`` (a pydantic model validated when
pools.yaml is loaded) and is registered in the ``dnsaas.backends`` entry-point group, so a third
party can add one without touching the tree::

    [project.entry-points."dnsaas.backends"]
    mydriver = "mypackage.backend:MyBackend"

Drivers never read global configuration: everything comes from the :class:`Target`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from types import TracebackType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

ENTRY_POINT_GROUP = "dnsaas.backends"

Endpoint = tuple[str, int]


class BackendError(Exception):
    """A backend call failed (the worker retries it)."""


class BackendOptions(BaseModel):
    """Options every driver accepts. ``host``/``port`` is where NOTIFY for this target goes."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = None
    port: int = 53
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class TsigKey:
    """A TSIG key from the tsigkeys table."""

    name: str
    algorithm: str
    secret: str


@dataclass(frozen=True, slots=True)
class ZoneRef:
    """What a backend needs to know about a zone."""

    id: str
    name: str
    serial: int
    pool_id: str


@dataclass(frozen=True)
class Target:
    """One pool target as stored: its driver, the mdns addresses it transfers from, options."""

    id: str
    pool_id: str
    type: str
    masters: tuple[Endpoint, ...]
    options: dict[str, Any]
    tsigkey: TsigKey | None = None
    description: str | None = None


@dataclass
class BackendEnv:
    """Services a driver may use besides its own options (the catalog driver needs them)."""

    engine: Any = None
    notify: Callable[..., Awaitable[Any]] | None = None
    nameservers: tuple[Endpoint, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class Backend:
    """Base class of every driver. Subclasses set ``Options`` and override the operations.

    Must override: ``create_zone``, ``delete_zone``. May override: ``update_zone`` (no-op by
    default), ``start``/``stop`` (to open and close clients), ``health``.
    """

    name: ClassVar[str] = "base"
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    #: True when the driver manages member zones itself (no NOTIFY needed to create them).
    SUPPORTS_CATALOG: ClassVar[bool] = False

    def __init__(self, target: Target, env: BackendEnv | None = None):
        self.target = target
        self.env = env or BackendEnv()
        self.options = self.Options.model_validate(target.options)

    async def start(self) -> None:
        """Open clients (HTTP sessions, sockets)."""

    async def stop(self) -> None:
        """Close what ``start`` opened."""

    async def __aenter__(self) -> Backend:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def create_zone(self, zone: ZoneRef) -> None:
        """Make the target serve ``zone`` (as a secondary of mdns). Idempotent."""
        raise NotImplementedError

    async def update_zone(self, zone: ZoneRef) -> None:
        """The zone changed (NOTIFY follows); drivers that need a nudge override this."""

    async def delete_zone(self, zone: ZoneRef, hard_delete: bool = False) -> None:
        """Stop serving ``zone``. Idempotent: a zone that is not there is fine."""
        raise NotImplementedError

    async def health(self) -> bool:
        """True when the target's control channel answers."""
        return True

    # helpers -------------------------------------------------------------------------------
    @property
    def notify_endpoint(self) -> Endpoint | None:
        """Where NOTIFY for this target goes (``options.host``/``port``), if configured."""
        return (self.options.host, self.options.port) if self.options.host else None

    def masters(self) -> tuple[Endpoint, ...]:
        """The mdns addresses the target transfers from."""
        if not self.target.masters:
            raise BackendError(f"target {self.target.id} has no masters")
        return self.target.masters


async def run_command(argv: list[str], seconds: float) -> tuple[int, str]:
    """Run a command without a shell; (exit status, stdout+stderr). Killed after ``seconds``."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), seconds)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise BackendError(f"{argv[0]} timed out after {seconds} s") from None
    return int(proc.returncode or 0), out.decode(errors="replace").strip()


@cache
def backend_class(type_name: str) -> type[Backend]:
    """The driver registered as ``type_name`` in the ``dnsaas.backends`` group."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == type_name:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Backend)):
                raise TypeError(f"entry point {ep.value} is not a Backend")
            return cls
    raise KeyError(type_name)


def backend_types() -> list[str]:
    """Names of every registered driver."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
