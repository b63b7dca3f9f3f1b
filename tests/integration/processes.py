"""Real bot processes for the multi-instance tests: `sre-consent-bot serve` subprocesses, configured only through
environment variables (the setting names a deployment uses), pointed at the in-process sandbox over HTTPS and at
Azurite's Table service, each on a free port, each logging to a file of its own, killed with a real SIGKILL.

A SIGKILL leaves what a crashed host leaves: no clean-up runs, the heartbeat stops, leases and outbox claims stay in
the store until they lapse. The test process sees the store through a TableStore of its own on the same tables (the
view an operator's tool would have), the ARM simulator's write log and the Connector's received messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.adapters.store.tables import TableStore
from sandbox import Sandbox

from ..azurite import Azurite
from ..conftest import LOG_LINES
from ..net import free_port
from .harness import bot_sdk

START_SECONDS = 90.0  # a cold Python start importing botbuilder and azure-* on a shared, busy CI machine
SIGTERM_DRAIN_SECONDS = 60.0


@dataclass
class BotProcess:
    """One `sre-consent-bot serve` process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    spawned_at: float  # time.monotonic() when it was spawned
    overrides: dict[str, str] = field(default_factory=dict)  # its settings beyond the shared ones
    metrics_port: int = 0  # its operators' listener (METRICS_PORT): /metrics and the detailed /readyz

    @property
    def readiness_url(self) -> str:
        """The operators' /readyz, with the counts (the public one says only ok or failed)."""
        return f"http://127.0.0.1:{self.metrics_port}/readyz"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def messages_url(self) -> str:
        return f"{self.url}/api/messages"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the process ends between two instructions; nothing it was doing finishes or is handed back."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> None:
        """SIGTERM, as App Service or Kubernetes stop an instance: aiohttp shuts down gracefully (the bot drains its
        executions and hands its leases back); `exit_code` waits for the end."""
        self.process.send_signal(signal.SIGTERM)

    def exit_code(self, timeout: float = SIGTERM_DRAIN_SECONDS) -> int:
        return self.process.wait(timeout)


async def http_status(url: str, timeout: float = 2.0) -> tuple[int, dict[str, Any]] | None:
    """GET `url` as JSON; None while nothing listens there."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s, s.get(url) as r:
            body = await r.json(content_type=None)
            return r.status, body if isinstance(body, dict) else {}
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return None


@dataclass
class BotProcesses:
    """Starts bot processes sharing one Table Storage store (tables of this test's own on the session's Azurite)."""

    box: Sandbox
    azurite: Azurite
    workdir: Path
    shared: dict[str, str] = field(default_factory=dict)  # settings every process of this test gets
    prefix: str = field(default_factory=lambda: f"p{uuid.uuid4().hex[:12]}")
    started: list[BotProcess] = field(default_factory=list)
    _store: TableStore | None = None

    def environment(self, name: str, port: int, metrics_port: int, **overrides: str) -> dict[str, str]:
        """Everything the process knows, all of it environment variables with the production names. Nothing is
        inherited from the test process but PATH (the sandbox's CA comes through SSL_CERT_FILE)."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONUNBUFFERED": "1",
            **self.box.bot_environment(),
            "BOT_SDK": bot_sdk(),
            "STORE": "azure-tables",
            "AZURE_STORAGE_CONNECTION_STRING": self.azurite.connection_string,
            "STORE_TABLE_PREFIX": self.prefix,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "METRICS_PORT": str(metrics_port),
            "INSTANCE_ID": name,
            "LOG_LEVEL": "DEBUG",  # everything our code logs reaches the whole-suite token-leak scan
            "SWEEP_INTERVAL_SECONDS": "0.2",
            "ARM_POLLING_INTERVAL": "0.05",
            **self.shared,
            **overrides,
        }

    def spawn(self, name: str | None = None, **overrides: str) -> BotProcess:
        """Start a process without waiting for it (several start in parallel; `ready` waits)."""
        name = name or f"bot{len(self.started) + 1}"
        port, metrics_port = free_port(), free_port()
        log_path = self.workdir / f"{name}-{len(self.started)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                cwd=self.workdir,  # no .env here: the environment is the whole configuration
                env=self.environment(name, port, metrics_port, **overrides),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        running = BotProcess(name, port, process, log_path, time.monotonic(), overrides, metrics_port)
        self.started.append(running)
        return running

    async def ready(self, bot: BotProcess, timeout: float = START_SECONDS) -> BotProcess:
        """Poll /readyz until the process says ready (or fail with its log). A port taken between `free_port` and the
        bind makes the process exit: it is spawned again on another port."""
        deadline = time.monotonic() + timeout
        while True:
            answer = await http_status(f"{bot.url}/readyz")
            if answer is not None and answer[0] == 200 and answer[1].get("status") == "ready":
                return bot
            if not bot.alive:
                if "address already in use" in bot.log().lower():
                    self.started.remove(bot)
                    return await self.ready(self.spawn(bot.name, **bot.overrides), max(1.0, deadline - time.monotonic()))
                raise AssertionError(f"{bot.name} exited with {bot.process.returncode}:\n{bot.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{bot.name} not ready within {timeout:g}s:\n{bot.log()[-3000:]}")
            await asyncio.sleep(0.05)  # polling for readiness, with a deadline

    async def start(self, name: str | None = None, **overrides: str) -> BotProcess:
        return await self.ready(self.spawn(name, **overrides))

    async def start_many(self, count: int, **overrides: str) -> list[BotProcess]:
        spawned = [self.spawn(**overrides) for _ in range(count)]
        return list(await asyncio.gather(*(self.ready(b) for b in spawned)))

    @property
    def store(self) -> TableStore:
        """The same tables, read from the test process (bound to the test's event loop on first use)."""
        if self._store is None:
            self._store = TableStore.from_connection_string(self.azurite.connection_string, self.prefix, owner="test")
        return self._store

    async def close(self) -> None:
        """Kill whatever is still running; hand every process's log to the whole-suite token-leak scan."""
        for bot in self.started:
            if bot.alive:
                bot.kill()
        if self._store is not None:
            await self._store.aclose()
        for bot in self.started:
            LOG_LINES.extend(bot.log().splitlines())
        with contextlib.suppress(OSError):
            for bot in self.started:
                bot.process.wait(1)
