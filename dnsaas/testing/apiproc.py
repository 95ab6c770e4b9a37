"""Waiting for a ``dnsaas api`` process started by a test or a benchmark."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import aiohttp


async def wait_until_serving(base: str, proc: subprocess.Popen[Any],
                             within: float = 30.0) -> None:
    """Poll ``base`` + ``/healthcheck`` until it answers 200. RuntimeError if ``proc`` exits
    first (with its output when it was captured), TimeoutError after ``within`` seconds."""
    async with aiohttp.ClientSession(base) as session, asyncio.timeout(within):
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else ""
                raise RuntimeError(f"dnsaas api exited with {proc.returncode}: {output!r}")
            try:
                async with session.get("/healthcheck") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
