"""Run the Microsoft 365 Agents Playground (npm, pinned) against a bot, with the demo users mocked in its YAML."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.world import World

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
GROUP_CHAT = "group-chat-ops"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _user_yaml(indent: str, teams_id: str, name: str, upn: str, oid: str) -> str:
    given, _, surname = name.partition(" ")
    return (f"{indent}id: {teams_id}\n{indent}name: {name}\n{indent}userPrincipleName: {upn}\n"
            f"{indent}aadObjectId: {oid}\n{indent}givenName: {given}\n{indent}surname: {surname or given}\n{indent}email: {upn}\n")


def config_yaml(world: World, current: str, bot_id: str, bot_name: str) -> str:
    """The Playground's mocked tenant: `current` types and clicks; the other demo users are members."""
    me = world.user(current)
    others = [u for u in world.users.values() if u.name != current and u.tenant_id == world.home_tenant_id]
    # the Playground wants at least five other members: observers with no role fill the chat
    fillers = [("Dana Observer", "dana"), ("Erin Observer", "erin"), ("Finn Observer", "finn")]
    users = "".join("  -" + _user_yaml("    ", u.teams_id, u.display_name, u.upn, u.object_id)[3:] for u in others)
    for i, (name, alias) in enumerate(fillers):
        users += "  -" + _user_yaml("    ", f"29:sandbox-{alias}", name, f"{alias}@contoso.example",
                                    f"00000000-0000-0000-0000-0000000001{i:02d}")[3:]
    return (
        f'version: "0.1.1"\ntenantId: {world.home_tenant_id}\nbot:\n  id: {bot_id}\n  name: {bot_name}\n'
        f"currentUser:\n{_user_yaml('  ', me.teams_id, me.display_name, me.upn, me.object_id)}"
        f"users:\n{users}"
        f"personalChat:\n  id: personal-chat-{current}\ngroupChat:\n  id: {GROUP_CHAT}\n  name: Ops\n"
        f"team:\n  id: team-sre\n  name: SRE\n  aadGroupId: {world.groups[0].object_id}\n"
        f"  channels:\n    - id: channel-incidents\n      name: Incidents\n"
    )


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


def start_playground(folder: Path, bot_url: str, config: str) -> Playground:
    if not CLI.is_file():
        raise RuntimeError("the Agents Playground is not installed: `make test` runs npm ci")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "playground.yml").write_text(config)
    port = free_port()
    env = {**os.environ, "TEAMSAPPTESTER_BROWSER": "none", "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(folder / "playground.yml")}
    process = subprocess.Popen(["node", str(CLI), "-e", bot_url, "-c", "msteams", "-p", str(port), "--disable-telemetry"],
                               cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
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
