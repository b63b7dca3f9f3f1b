"""`sre-consent-bot sandbox --anonymous` and `driver` run as the README's Agents Playground section runs them: real
processes in a folder of their own (its `.sandbox/`), talking over loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def _environment() -> dict[str, str]:
    """This environment, without the test session's CA (the sandbox makes its own) and with the clone on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@dataclass
class SandboxProcess:
    process: subprocess.Popen[bytes]
    folder: Path  # where it runs: `.sandbox/` is here
    port: int

    @property
    def messages_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/messages"

    @property
    def playground_config(self) -> Path:
        return self.folder / ".sandbox" / "playground.yml"

    def endpoints(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads((self.folder / ".sandbox" / "endpoints.json").read_text())
        return loaded

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`sre-consent-bot ARGS` in the sandbox's folder, as a person types it in another terminal."""
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=self.folder, env=_environment(), capture_output=True, text=True, timeout=timeout
        )

    def log(self) -> str:
        path = self.folder / "sandbox.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C, as the README stops it
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_sandbox(folder: Path, *args: str, timeout: float = 60) -> SandboxProcess:
    """`sre-consent-bot sandbox ARGS --port <free>` in `folder`; returns once the bot listens."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with (folder / "sandbox.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "sandbox", *args, "--port", str(port)],
            cwd=folder,
            env=_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = SandboxProcess(process, folder, port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited ({process.returncode}): {started.log()}")
        if (folder / ".sandbox" / "endpoints.json").is_file():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return started
            except OSError:
                pass
        time.sleep(0.1)
    started.stop()
    raise RuntimeError(f"the sandbox did not start: {started.log()}")
