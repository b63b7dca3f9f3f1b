"""One sandbox per `.sandbox/` directory: a lock file holding the running sandbox's PID and bot URL.

The lock is an `flock` on `.sandbox/sandbox.lock`, so it is alive exactly as long as the process that took it
(the kernel drops it when that process dies, even on SIGKILL): a stale file never blocks a new sandbox.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCK_NAME = "sandbox.lock"


@dataclass
class SandboxLock:
    """Held by the running sandbox until it stops."""

    path: Path
    fd: int

    def release(self) -> None:
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def running(directory: Path) -> dict[str, Any] | None:
    """The running sandbox's `{"pid", "port", "bot"}`, or None when none holds the lock in `directory`."""
    path = directory / LOCK_NAME
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                owner: dict[str, Any] = json.loads(path.read_text() or "{}")
            except ValueError:  # the owner is between taking the lock and writing it
                owner = {}
            return {"pid": owner.get("pid", "?"), "port": owner.get("port"), "bot": owner.get("bot", "?")}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def acquire(directory: Path, port: int, bot_url: str) -> SandboxLock | None:
    """Take the lock and record who holds it; None when another live sandbox holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "port": port, "bot": bot_url}).encode())
    return SandboxLock(directory / LOCK_NAME, fd)


def port_in_use(port: int) -> bool:
    """Whether something already listens on the loopback `port` (the bot could not bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds: TIME_WAIT does not count
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
