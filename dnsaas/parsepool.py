"""Zone-file parsing in a worker process (zone imports, designate-api.md §1.5).

Parsing and validating a 100,000-record file is a second or two of pure Python. Run in a thread it
would hold the GIL and stall the API's event loop; here it runs in a ``forkserver`` worker process
(``concurrent.futures.ProcessPoolExecutor``) while the loop keeps serving, and the worker reports
its progress through a queue. If worker processes cannot be used, the parse runs in a thread.
Starting the worker (forkserver, module preload, fork) takes a second of CPU: API processes call
:func:`warm` at start so that the first import does not pay for it.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import multiprocessing
import multiprocessing.util
import os
import queue
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from dnsaas.rowprep import prepare_rows
from dnsaas.zonefile import ImportedRRset, ParsedZone, ZoneFileError, parse_zone

log = logging.getLogger(__name__)

OnProgress = Callable[[int], Awaitable[None]]
_POLL = 0.2  # seconds between progress reports
_worker_queue: Any = None  # the progress queue, in a worker process


def _init_worker(progress_queue: Any) -> None:
    global _worker_queue
    _worker_queue = progress_queue


def _parse_compact(text: str, min_ttl: int | None, max_records: int | None,
                   token: int, prepare: bool = False) -> tuple[Any, ...]:
    """Worker side: parse with the garbage collector off (nothing cyclic is built; it would
    rescan the growing record lists over and over) and return plain tuples (cheap to pickle),
    or with ``prepare`` the recordsets as :class:`~dnsaas.rowprep.PreparedRows`."""
    def report(percent: int) -> None:
        if _worker_queue is not None:
            _worker_queue.put((token, percent))
    enabled = gc.isenabled()
    gc.disable()
    try:
        zone = parse_zone(text, min_ttl=min_ttl, max_records=max_records, progress=report)
    except ZoneFileError as exc:
        return ("error", exc.message, exc.line)
    finally:
        if enabled:
            gc.enable()
    header = (zone.name, zone.ttl, zone.email, zone.serial, zone.refresh, zone.retry,
              zone.expire, zone.minimum)
    if prepare:
        gc.disable()
        try:
            rows = prepare_rows(zone.name, zone.ttl,
                                [(rs.name, rs.type, rs.ttl, rs.records) for rs in zone.rrsets])
        finally:
            if enabled:
                gc.enable()
        return ("prepared", header, rows)
    return ("ok", header, [(rs.name, rs.type, rs.ttl, rs.records, rs.line) for rs in zone.rrsets])


def _expand(result: tuple[Any, ...]) -> ParsedZone:
    if result[0] == "error":
        error = ZoneFileError(result[1])  # the message names the line already
        error.line = result[2]
        raise error
    if result[0] == "prepared":
        return ParsedZone(*result[1], prepared=result[2])
    _, header, rrsets = result
    return ParsedZone(*header, rrsets=[ImportedRRset(*rs) for rs in rrsets])


class ParsePool:
    """One worker process (more on bigger machines) shared by all imports of this process."""

    def __init__(self, workers: int | None = None):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["dnsaas.zonefile", "dnsaas.rowprep"])
        self._queue = ctx.Queue()
        self._executor = ProcessPoolExecutor(
            max_workers=workers or max(1, min(4, (os.cpu_count() or 2) - 1)), mp_context=ctx,
            initializer=_init_worker, initargs=(self._queue,))
        self._tokens = itertools.count(1)
        self._latest: dict[int, int] = {}
        self._warming = False
        self._warm = threading.Event()
        # At exit, multiprocessing joins its child processes BEFORE concurrent.futures stops
        # the pool's workers (in a forked ``dnsaas api --workers`` process: a hang), so stop
        # them first: finalizers with an exit priority run before that join.
        multiprocessing.util.Finalize(self, _stop_executor, args=(self._executor,),
                                      exitpriority=10)

    def _drain(self) -> None:
        while True:
            try:
                token, percent = self._queue.get_nowait()
            except queue.Empty:
                return
            self._latest[token] = percent

    async def parse(self, text: str, *, min_ttl: int | None = None,
                    max_records: int | None = None, on_progress: OnProgress | None = None,
                    prepare: bool = False) -> ParsedZone:
        """Parse ``text`` in a worker; ``on_progress(percent)`` as the worker reports."""
        if self._warming and not self._warm.is_set():
            # submit() would block the event loop on the executor's lock meanwhile
            await asyncio.to_thread(self._warm.wait, 60)
        token = next(self._tokens)
        future: Future[tuple[Any, ...]] = self._executor.submit(
            _parse_compact, text, min_ttl, max_records, token, prepare)
        waiter = asyncio.wrap_future(future)
        reported = -1
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=_POLL)
                self._drain()
                percent = self._latest.get(token, 0)
                if on_progress is not None and percent > reported and not done:
                    reported = percent
                    await on_progress(percent)
                if done:
                    result = waiter.result()
                    if result[0] == "ok":  # 100k objects to build: in a thread
                        return await asyncio.to_thread(_expand, result)
                    return _expand(result)
        finally:
            self._latest.pop(token, None)

    async def warm_async(self) -> None:
        """Start the worker process now: parses submitted meanwhile wait for it. The spawn
        (inside ``submit``) blocks, so it runs in a thread; the no-op's result is awaited on
        the loop (cancellable at shutdown)."""
        self._warming = True  # on the loop, before parse() can look
        try:
            future = await asyncio.to_thread(self._executor.submit, int)
        finally:
            self._warm.set()
        await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        _stop_executor(self._executor)


def _stop_executor(executor: ProcessPoolExecutor) -> None:
    """Shut the pool down without waiting, and end its worker processes."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


_pool: ParsePool | None = None


async def warm() -> None:
    """Start the worker process in the background of an API process (a thread waits for it)."""
    global _pool
    try:
        if _pool is None:
            _pool = ParsePool()
        await _pool.warm_async()
    except (BrokenProcessPool, OSError, NotImplementedError) as exc:
        log.warning("zone-file worker process unavailable (%s)", exc)


def shutdown() -> None:
    """Stop the worker process(es) of this process (API shutdown)."""
    global _pool
    if _pool is not None:
        _pool.shutdown()
        _pool = None


async def parse_zone_async(text: str, *, min_ttl: int | None = None,
                           max_records: int | None = None,
                           on_progress: OnProgress | None = None,
                           prepare: bool = False) -> ParsedZone:
    """:func:`dnsaas.zonefile.parse_zone` off the event loop: in the worker process pool, or in
    a thread where processes are unavailable. Raises :class:`ZoneFileError`.

    ``prepare``: the result has ``prepared`` row chunks (:func:`~dnsaas.rowprep.prepare_rows`)
    instead of ``rrsets`` (a zone import: the API process only has to write them)."""
    global _pool
    try:
        if _pool is None:
            _pool = ParsePool()
        return await _pool.parse(text, min_ttl=min_ttl, max_records=max_records,
                                 on_progress=on_progress, prepare=prepare)
    except (BrokenProcessPool, OSError, NotImplementedError) as exc:
        log.warning("zone-file worker process unavailable (%s); parsing in a thread", exc)
        if _pool is not None:
            _pool.shutdown()
            _pool = None
    return await asyncio.to_thread(_parse_in_thread, text, min_ttl, max_records, prepare)


def _parse_in_thread(text: str, min_ttl: int | None, max_records: int | None,
                     prepare: bool) -> ParsedZone:
    zone = parse_zone(text, min_ttl=min_ttl, max_records=max_records)
    if prepare:
        zone.prepared = prepare_rows(zone.name, zone.ttl,
                                     [(rs.name, rs.type, rs.ttl, rs.records) for rs in zone.rrsets])
        zone.rrsets = []
    return zone
