"""The folder rule: botbuilder is imported only in bot/adapters/teams, the Agents SDK only in bot/adapters/agents.

Leaving an SDK is then a one-folder change. Checked on every module's imports (ast), and by running the app
with botbuilder made unimportable (BOT_SDK=agents), serving one message end to end against the sandbox.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "cards", "sandbox", "manifest")
RULES = {  # top-level module prefix -> the only folder that may import it
    "botbuilder": "bot/adapters/teams/",
    "botframework": "bot/adapters/teams/",
    "microsoft_agents": "bot/adapters/agents/",
}


def imported_modules(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports stay inside the project)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def violations() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for module in imported_modules(path):
                top = module.split(".")[0]
                allowed = RULES.get(top)
                if allowed is not None and not relative.startswith(allowed):
                    found.append(f"{relative} imports {module} (only {allowed} may)")
    return found


def test_each_sdk_is_imported_only_in_its_own_adapter_folder() -> None:
    assert violations() == []


def test_the_rule_sees_an_import_in_the_wrong_folder(tmp_path: Path) -> None:
    """The walk is not vacuous: both adapters do import their SDK, and a stray import is named."""
    teams = {m for p in (ROOT / "bot/adapters/teams").glob("*.py") for m in imported_modules(p)}
    agents = {m for p in (ROOT / "bot/adapters/agents").glob("*.py") for m in imported_modules(p)}
    assert any(m.startswith("botbuilder") for m in teams) and any(m.startswith("microsoft_agents") for m in agents)
    stray = tmp_path / "stray.py"
    stray.write_text("import botbuilder.core\nfrom microsoft_agents.activity import Activity\n")
    assert imported_modules(stray) == {"botbuilder.core", "microsoft_agents.activity"}


HIDDEN_BOTBUILDER = textwrap.dedent(
    """
    import asyncio, importlib.abc, json, os, sys, tempfile
    from pathlib import Path

    class NoBotbuilder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("botbuilder", "botframework"):
                raise ImportError(f"{name} is hidden: the agents adapter must not need it")
            return None

    sys.meta_path.insert(0, NoBotbuilder())
    for name in [m for m in sys.modules if m.split(".")[0] in ("botbuilder", "botframework")]:
        del sys.modules[name]

    from sandbox.tls import SandboxTLS  # the CA before aiohttp is imported (it reads SSL_CERT_FILE then)

    tmp = Path(tempfile.mkdtemp(prefix="hidden-botbuilder-"))
    tls = SandboxTLS.create(tmp)
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(tls.ca_path)

    from sandbox import Sandbox
    from sandbox.driver import TeamsDriver
    from tests.integration.harness import bot_settings, start_bot

    async def main() -> dict:
        box = Sandbox.start(tmp, operation_seconds=0.05, tls=tls)
        try:
            bot = start_bot(bot_settings(box, tmp / "bot.sqlite3", BOT_SDK="agents"))
            try:
                chat = TeamsDriver.group_chat(box.world.home_tenant_id, "hidden-botbuilder")
                async with box.driver(bot.messages_url) as d:
                    await d.say(box.world.user("carol"), "help", chat)
                    reply = await d.wait_for(lambda m: "restart vm" in m.text, conversation_id=chat.id)
            finally:
                bot.stop()
        finally:
            box.stop()
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("botbuilder", "botframework"))
        return {"reply": reply.text[:200], "loaded": loaded, "sdk": bot.container.settings.teams.bot_sdk}

    print(json.dumps(asyncio.run(main())))
    """
)


def test_the_app_serves_a_message_on_the_agents_sdk_with_botbuilder_hidden() -> None:
    env = {**os.environ, "BOT_SDK": "agents", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", HIDDEN_BOTBUILDER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sdk"] == "agents"
    assert result["loaded"] == []
    assert "restart vm" in result["reply"]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
