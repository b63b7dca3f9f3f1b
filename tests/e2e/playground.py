"""Run the Microsoft 365 Agents Playground (npm, pinned) against a bot, with the demo users mocked in its YAML."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.playground import GROUP_CHAT, config_yaml  # noqa: F401  (re-exported for the tests)
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"


@dataclass
class Playground:
    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}/"

    @property
    def service_url(self) -> str:
        return f"http://localhost:{self.port}/_connector"

    def log(self) -> str:
        path = self.folder / "devTools" / "m365agentsplayground.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)


def start_playground(folder: Path, bot_url: str, config: str | Path) -> Playground:
    """The Playground on a free port for the bot at `bot_url`, with `config` (YAML text, or the file `sandbox
    --anonymous` wrote) as `M365_AGENTS_PLAYGROUND_CONFIG_PATH`, its working folder `folder`."""
    if not CLI.is_file():
        raise RuntimeError("the Agents Playground is not installed: `make test` runs npm ci")
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(config, str):
        (folder / "playground.yml").write_text(config)
        config = folder / "playground.yml"
    port = free_port()
    env = {**os.environ, "TEAMSAPPTESTER_BROWSER": "none", "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(config)}
    process = subprocess.Popen(
        ["node", str(CLI), "-e", bot_url, "-c", "msteams", "-p", str(port), "--disable-telemetry"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    playground = Playground(process, port, folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Playground exited ({process.returncode}): {playground.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(1.0)  # it listens before its configuration is loaded
                if process.poll() is None:
                    return playground
        except OSError:
            time.sleep(0.2)
    playground.stop()
    raise RuntimeError(f"the Playground did not start: {playground.log()}")
