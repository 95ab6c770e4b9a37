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


class KnotBackend(Backend):
    """knotc conf transactions against one Knot server."""

    name = "knot"
    Options = KnotOptions
    options: KnotOptions
    _locks: ClassVar[dict[str, asyncio.Lock]] = {}

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

    async def delete_zone(self, zone: ZoneRef, hard_delete: bool = False) -> None:
        await self._transaction([("conf-unset", f"zone[{zone.name}]")],
                                ok_errors=("invalid identifier",))

    async def health(self) -> bool:
        try:
            rc, _ = await self._knotc("status")
        except BackendError:
            return False
        return rc == 0
