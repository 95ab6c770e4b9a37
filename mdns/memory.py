"""Freed memory kept in the process for reuse instead of handed back to the OS at once (glibc).

Dropping a rendered transfer from the cache frees tens of megabytes (an IXFR right after a
change drops the zone's previous AXFR). glibc trims the heap inside that ``free()`` —
returning the pages to the OS — which costs milliseconds on the request that evicted it, and
page faults on the next render that needs the memory again. Raising glibc's trim threshold to
the transfer cache budget keeps that memory for reuse: RSS stays bounded by the cache budget
plus the working set, and evictions cost microseconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_INT_MAX = 2**31 - 1


def keep_freed_memory(nbytes: int) -> bool:
    """Let glibc keep up to ``nbytes`` of freed heap; False where there is no glibc ``mallopt``."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, min(max(nbytes, 0), _INT_MAX)))
