"""Knot DNS through ``knotc`` configuration transactions.

A zone is added with ``conf-begin`` / ``conf-set zone[Z]`` / ``conf-set zone[Z].template T`` /
``conf-commit`` and removed with ``conf-unset zone[Z]``. Knot holds one configuration
transaction at a time for all its clients, so calls are serialised per control socket in this
process and ``conf-begin`` is retried while another process holds the transaction; on any error
the transaction is aborted (peers.md §5)::

    type: knot
    masters: [{host: 127.0.0.1, port: 5354}]   # informational: the template names the primary
    options:
      host: 127.0.0.1            # Knot's DNS address (NOTIFY goes here)
      port: 53
      socket: /run/knot/knot.sock
      template: secondary        # a template with master = mdns and a notify ACL
      timeout: 10

Run knotd on a binary confdb (``knotd -C``) so runtime zones survive ``knotc reload``.

Every change also gets a ``knotc zone-refresh`` besides the NOTIFY. Knot 3.2 plans zone events
in whole seconds: after a transfer that changed the zone it plans its own NOTIFY event for the
next second, and a NOTIFY for the zone arriving before that event ran leaves the refresh waiting
behind it — up to ~1 s for a zone that changes more often than once a second (peers.md §5). A
user refresh always re-arms the timer, so it runs at once. The commands go down one long-lived
``knotc`` reading them from its stdin, so a nudge costs a pipe write, not a process.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

from backends.base import Backend, BackendError, BackendOptions, ZoneRef, run_command


class KnotOptions(BackendOptions):
    socket: str = "/run/knot/knot.sock"
    knotc_bin: str = "knotc"
    template: str | None = "secondary"
    master: str | None = None  # a remote id, instead of a template
    acl: list[str] = []


class _CommandPipe:
    """One ``knotc`` process that runs the commands written to its stdin (output dropped),
    started on first use and again if it exits."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.proc: asyncio.subprocess.Process | None = None

    async def send(self, *args: str) -> None:
        """Queue one command line (best effort: the NOTIFY that follows does not depend on it)."""
        if self.proc is None or self.proc.returncode is not None:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
        assert self.proc.stdin is not None
        self.proc.stdin.write((" ".join(args) + "\n").encode())
        await self.proc.stdin.drain()

    async def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2)
        except TimeoutError:
            proc.kill()
            await proc.wait()


class KnotBackend(Backend):
    """knotc conf transactions against one Knot server."""

    name = "knot"
    Options = KnotOptions
    options: KnotOptions
    _locks: ClassVar[dict[str, asyncio.Lock]] = {}
    _pipe: _CommandPipe | None = None

    def _lock(self) -> asyncio.Lock:
        return self._locks.setdefault(self.options.socket, asyncio.Lock())

    async def _knotc(self, *args: str) -> tuple[int, str]:
        argv = [self.options.knotc_bin, "-s", self.options.socket, "-t",
                str(max(1, int(self.options.timeout))), *args]
        return await run_command(argv, self.options.timeout)

    async def _transaction(self, items: list[tuple[str, ...]], ok_errors: tuple[str, ...]) -> None:
        async with self._lock():
            deadline = time.monotonic() + self.options.timeout
            delay, aborted_orphan = 0.002, False
            while True:
                rc, out = await self._knotc("conf-begin")
                if rc == 0:
                    break
                if "too many transactions" not in out:
                    raise BackendError(f"knotc conf-begin: {out}")
                if time.monotonic() > deadline - self.options.timeout / 2 and not aborted_orphan:
                    # Held for half the timeout: a crashed client's transaction; drop it.
                    await self._knotc("conf-abort")
                    aborted_orphan = True
                elif time.monotonic() > deadline:
                    raise BackendError("knotc: configuration transaction busy")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)
            try:
                for item in items:
                    rc, out = await self._knotc(*item)
                    if rc != 0 and not any(e in out for e in ok_errors):
                        raise BackendError(f"knotc {' '.join(item)}: {out}")
                rc, out = await self._knotc("conf-commit")
                if rc != 0:
                    raise BackendError(f"knotc conf-commit: {out}")
            except BaseException:
                await asyncio.shield(self._knotc("conf-abort"))
                raise

    async def create_zone(self, zone: ZoneRef) -> None:
        z = f"zone[{zone.name}]"
        items: list[tuple[str, ...]] = [("conf-set", z)]
        if self.options.template:
            items.append(("conf-set", f"{z}.template", self.options.template))
        if self.options.master:
            items.append(("conf-set", f"{z}.master", self.options.master))
        for acl in self.options.acl:
            items.append(("conf-set", f"{z}.acl", acl))
        await self._transaction(items, ok_errors=("duplicate identifier",))

    async def update_zone(self, zone: ZoneRef) -> None:
        """``zone-refresh`` through the command pipe (see the module docstring)."""
        if self._pipe is None:
            self._pipe = _CommandPipe([self.options.knotc_bin, "-s", self.options.socket, "-t",
                                       str(max(1, int(self.options.timeout)))])
        try:
            await self._pipe.send("zone-refresh", zone.name)
        except (OSError, ConnectionError) as exc:
            await self._pipe.close()
            raise BackendError(f"knotc zone-refresh {zone.name}: {exc}") from exc

    async def stop(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()
            self._pipe = None
        await super().stop()

    async def delete_zone(self, zone: ZoneRef, hard_delete: bool = False) -> None:
        await self._transaction([("conf-unset", f"zone[{zone.name}]")],
                                ok_errors=("invalid identifier",))

    async def health(self) -> bool:
        try:
            rc, _ = await self._knotc("status")
        except BackendError:
            return False
        return rc == 0
