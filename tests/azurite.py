"""Azurite, Microsoft's Azure Storage emulator (npm `azurite`), started for the test session.

It listens on a free loopback port, keeps everything in memory, and authenticates with the
well-known development account (devstoreaccount1): a public constant published in Microsoft's
Azurite documentation, not a secret.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_ACCOUNT = "devstoreaccount1"
# The emulator's fixed development key, from Microsoft's Azurite documentation ("Well-known storage account and key").
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Azurite:
    process: subprocess.Popen[bytes]
    table_port: int
    workdir: Path

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/{DEV_ACCOUNT};"
        )

    @classmethod
    def start(cls) -> Azurite:
        binary = ROOT / "node_modules" / ".bin" / "azurite-table"
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: run `npm ci` (make test does) to install Azurite")
        workdir = Path(tempfile.mkdtemp(prefix="sre-consent-bot-azurite-"))
        for _attempt in range(3):  # Azurite cannot report a port it chose: pick one; retry if it was taken meanwhile
            port = _free_port()
            process = subprocess.Popen(
                [
                    str(binary),
                    "--inMemoryPersistence",
                    "--tableHost",
                    "127.0.0.1",
                    "--tablePort",
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
                if _listening(port):
                    return cls(process, port, workdir)
                time.sleep(0.05)  # polling for the listener, with a deadline
            process.kill()
            process.wait()
        raise RuntimeError("Azurite did not start listening (tried 3 ports)")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
