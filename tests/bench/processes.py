"""The servers `make bench` measures, each a process of its own: its resident memory is its own and its start-up is
timed from the fork to its port accepting connections."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import Sandbox
from sandbox.world import User
from tests.azurite import Azurite
from tests.net import free_port, listening

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 60.0
BASELINES = {"floor": "floor", "stock": "stock botbuilder", "agents": "stock Agents SDK"}


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    start_seconds: float  # process start to accepting connections on its port
    store: Path | None = None
    metrics_port: int | None = None  # this bot's operators' listener (METRICS_PORT): the detailed /readyz

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/messages"

    def memory_mib(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the server's process in MiB: resident now, and the most it ever was."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
        return kib["VmRSS"] / 1024, kib["VmHWM"] / 1024

    def ready(self) -> dict[str, Any]:
        """The bot's readiness detail (outbox depth, dead letters, ...): the operators' /readyz, on the metrics
        listener (the public one says only ok or failed)."""
        assert self.metrics_port is not None, f"{self.name} has no metrics listener"
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=30) as r:
            checks: dict[str, Any] = json.loads(r.read())["checks"]
            return checks

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def spawn(name: str, argv: list[str], env: dict[str, str], port: int, log: Path, cwd: Path) -> Server:
    """Start a server process and time it from the fork to its port accepting connections."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    deadline = started + START_SECONDS
    while not listening(port, timeout=0.2):
        if process.poll() is not None or time.perf_counter() > deadline:
            process.kill()
            raise RuntimeError(f"{name} did not start listening on {port}; its stderr: {log.read_text()[-2000:]}")
        time.sleep(0.005)  # polling the port with a deadline: the start-up time is this loop's measurement
    return Server(name, process, port, time.perf_counter() - started)


def bot_name(sdk: str, store: str) -> str:
    return f"this bot, BOT_SDK={sdk}, STORE={store}"


def bench_settings(
    sdk: str, store: str, azurite: Azurite | None, approvers: list[User], prefix: str, turn_rates: bool = True
) -> dict[str, str]:
    """The settings every measured bot runs with (the bench and its profiles alike), for one SDK and one store;
    `turn_rates` False keeps the outbox's own pace (the delivery storm)."""
    settings = {
        "BOT_SDK": sdk,
        "LOG_LEVEL": "WARNING",
        # one approval of two: every click is the compare-and-set, audit and card of an approval, without 200 VM
        # restarts running behind the measured turns (the run after the last approval is another benchmark)
        "APPROVALS_REQUIRED": "2",
        "DEFAULT_APPROVERS": ",".join(u.object_id for u in approvers),
        "SWEEP_INTERVAL_SECONDS": "30",  # the production default (the in-process profile's harness sweeps often)
    }
    if turn_rates:
        # the turn-rate loads stand for many tenants' conversations: the Connector's per-app-per-tenant limit is off
        # for them (loads.py), and so is the pace the outbox keeps below it; the delivery storm measures both
        settings["TEAMS_SENDS_PER_SECOND"] = "100000"
    if store == "azure-tables":
        assert azurite is not None
        tables = {"STORE": "azure-tables", "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
        settings.update({**tables, "STORE_TABLE_PREFIX": f"{prefix}{sdk[:3]}"})
    return settings


def bot_argv() -> list[str]:
    argv = [str(ROOT / ".venv" / "bin" / "sre-consent-bot"), "serve"]
    return argv if Path(argv[0]).exists() else [sys.executable, "-m", "bot", "serve"]


def start_bot(
    box: Sandbox,
    tmp: Path,
    sdk: str,
    store: str,
    azurite: Azurite | None,
    approvers: list[User],
    tag: str = "",
    turn_rates: bool = True,
    **extra: str,
) -> Server:
    """`sre-consent-bot serve` for the sandbox, with the production setting names; `tag` names its own store."""
    port, metrics_port = free_port(), free_port()
    path = tmp / f"bot-{sdk}-{store}{tag}.sqlite3"
    env = {
        **os.environ,
        **box.bot_environment(),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "STORE_PATH": str(path),
        **bench_settings(sdk, store, azurite, approvers, f"bench{tag.replace('-', '')}", turn_rates),
        **extra,
    }
    server = spawn(bot_name(sdk, store), bot_argv(), env, port, tmp / f"bot-{sdk}-{store}{tag}.log", tmp)
    server.store, server.metrics_port = path, metrics_port
    return server


def start_baseline(box: Sandbox, tmp: Path, kind: str) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "tests.bench.servers", kind, str(port)]
    env = {**os.environ, **box.bot_environment(), "PYTHONPATH": str(ROOT)}
    return spawn(BASELINES[kind], argv, env, port, tmp / f"{kind}.log", tmp)


def start_up_seconds(start: Any, runs: int) -> list[float]:
    """Start-up of `runs` fresh processes (`start()` returns a started Server), each stopped once timed."""
    times = []
    for _ in range(runs):
        server = start()
        times.append(server.start_seconds)
        server.stop()
    return times


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def wait_for_outbox(server: Server, seconds: float = 300.0) -> int:
    """Wait until the bot has sent everything its outbox holds; returns the dead letters (0 when all went out)."""
    deadline = time.monotonic() + seconds
    while True:
        checks = server.ready()
        assert "outbox_depth" in checks, f"{server.name}'s readiness detail has no outbox_depth: {checks}"
        if checks["outbox_depth"] == 0 or time.monotonic() > deadline:
            return int(checks.get("outbox_dead_letters") or 0) + int(checks.get("outbox_depth") or 0)
        time.sleep(0.1)
