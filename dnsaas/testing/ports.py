"""Free loopback ports and a small polling helper for tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["free_port", "wait_for"]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port on ``host`` that is currently free for both UDP and TCP.

    The kernel picks a TCP port; it is kept only if UDP can bind the same number too.
    Both sockets are closed before returning, so a small race with other processes remains.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    last_error: OSError | None = None
    for _ in range(100):
        with socket.socket(family, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError as exc:
                    last_error = exc
                    continue
                return port
    raise RuntimeError(f"no port free for both UDP and TCP on {host}: {last_error}")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    interval: float = 0.005,
) -> T:
    """Call ``predicate`` until it returns a truthy value, and return that value.

    Raises ``TimeoutError`` if it stays falsy for ``timeout`` seconds. The predicate is always
    tried at least once, and once more at the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"condition not met within {timeout:.3f} s")
        time.sleep(min(interval, remaining))
