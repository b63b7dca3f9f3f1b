"""Azurite, Microsoft's Azure Storage emulator (npm `azurite`), started for the test session.

It listens on a free loopback port, keeps everything in memory, and authenticates with the
well-known development account (devstoreaccount1): a public constant published in Microsoft's
Azurite documentation, not a secret.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.net import free_port, listening

ROOT = Path(__file__).resolve().parents[1]
DEV_ACCOUNT = "devstoreaccount1"
# The emulator's fixed development key, from Microsoft's Azurite documentation ("Well-known storage account and key").
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_SECONDS = 30


def _serve(service: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start Azurite's `service` (table or queue) on a free loopback port, in memory; (process, port)."""
    binary = ROOT / "node_modules" / ".bin" / f"azurite-{service}"
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `npm ci` (make test does) to install Azurite")
    for _attempt in range(3):  # Azurite cannot report a port it chose: pick one; retry if it was taken meanwhile
        port = free_port()
        process = subprocess.Popen(
            [
                str(binary),
                "--inMemoryPersistence",
                f"--{service}Host",
                "127.0.0.1",
                f"--{service}Port",
                str(port),
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--silent",
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            if listening(port):
                return process, port
            time.sleep(0.05)  # polling for the listener, with a deadline
        process.kill()
        process.wait()
    raise RuntimeError(f"Azurite's {service} service did not start listening (tried 3 ports)")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Azurite:
    """Azurite's Table and Queue services (the store, and the alert inbox's queue with STORE=azure-tables)."""

    process: subprocess.Popen[bytes]
    table_port: int
    workdir: Path
    queue_process: subprocess.Popen[bytes]
    queue_port: int

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/{DEV_ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{DEV_ACCOUNT};"
        )

    @classmethod
    def start(cls) -> Azurite:
        workdir = Path(tempfile.mkdtemp(prefix="sre-consent-bot-azurite-"))
        table, table_port = _serve("table", workdir)
        try:
            queue, queue_port = _serve("queue", workdir)
        except BaseException:
            _stop(table)
            raise
        return cls(table, table_port, workdir, queue, queue_port)

    def stop(self) -> None:
        _stop(self.queue_process)
        _stop(self.process)
