"""Loopback ports for the servers the tests and the benchmark start: a free one, and whether one is listening yet."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port free right now; whoever binds it a moment later may find it taken (callers retry or fail clearly)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int, timeout: float = 0.5) -> bool:
    """Something accepts connections on the loopback `port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False
