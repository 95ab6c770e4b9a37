"""A backend that does nothing: for pools without real targets (the embedded default) and tests.

It remembers what it was asked, per process, so tests can look::

    type: fake
    options: {}
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from backends.base import Backend, BackendError, BackendOptions, ZoneRef


class FakeOptions(BackendOptions):
    fail: bool = False  # every call raises (to exercise retries)
    delay: float = 0.0  # seconds each call takes (to catch a worker mid-job)


class FakeBackend(Backend):
    """Records calls in :attr:`calls` (shared by all instances of the process)."""

    name = "fake"
    Options = FakeOptions
    options: FakeOptions
    calls: ClassVar[list[tuple[str, str, str]]] = []

    async def _record(self, op: str, zone: ZoneRef) -> None:
        FakeBackend.calls.append((self.target.id, op, zone.name))
        if self.options.delay:
            await asyncio.sleep(self.options.delay)
        if self.options.fail:
            raise BackendError(f"fake target {self.target.id} fails on purpose")

    async def create_zone(self, zone: ZoneRef) -> None:
        await self._record("create", zone)

    async def update_zone(self, zone: ZoneRef) -> None:
        await self._record("update", zone)

    async def delete_zone(self, zone: ZoneRef, hard_delete: bool = False) -> None:
        await self._record("delete", zone)
