"""README, "Plans from agents" / "Try it in the sandbox": `make run`, then the agent's walk-through as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.net import free_port

from .test_cli import ROOT, _clean_env, _cli, _start_sandbox, _stop


def _background(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _plan_id(proc: subprocess.Popen[str], until: str) -> str:
    """Read the waiting agent's output up to the line `until` begins; the plan it proposed."""
    assert proc.stdout is not None
    seen = ""
    for line in proc.stdout:
        seen += line
        if line.startswith(until) and (found := re.search(r"plan (p-[0-9a-f]+)", seen)):
            return found[1]
    raise AssertionError(f"no plan proposed: {seen}")


def _approve_and_finish(proc: subprocess.Popen[str], cwd: Path, *where: str, until: str = "approve it as an approver") -> str:
    """alice approves the newest card (as the README's third terminal does); what the waiting agent printed in all."""
    plan_id = _plan_id(proc, until)
    for _ in range(60):  # an agent of your own says nothing about the card: a person looks again until it is there
        approved = _cli("driver", "approve", "--as", "alice", *where, cwd=cwd)
        if "no plan card" not in approved.stderr:
            break
    assert approved.returncode == 0 and plan_id in approved.stdout, approved.stdout + approved.stderr
    out, _ = proc.communicate(timeout=60)
    return out


def readme_commands() -> list[list[str]]:
    """The commands of the README's "Try it in the sandbox" shell blocks, as a shell would split them."""
    section = (ROOT / "README.md").read_text().split("\n### Try it in the sandbox\n", 1)[1].split("\n## ", 1)[0]
    lines = [line.partition("  #")[0] for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL) for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.strip()]


def test_the_readme_walk_through_of_plans_from_agents(tmp_path: Path) -> None:
    commands = readme_commands()
    program = ".venv/bin/sre-consent-bot"
    assert commands == [
        [program, "driver", "plan", "--action", "restart dev-01", "--rationale", "Memory leak", "--wait", "120"],
        [program, "driver", "approve", "--as", "alice"],
        ["set", "-a;", ".", ".sandbox/agent.env;", "set", "+a"],
        [".venv/bin/python", "examples/mcp_agent.py", "dev-01"],
    ], commands  # what this test runs, in the order the README gives it
    port = free_port()
    proc, banner = _start_sandbox(tmp_path, port)
    try:
        assert "Three things to try" in banner, banner
        plan = [sys.executable, "-m", "bot", *commands[0][1:]]
        env = {**_clean_env(), "PYTHONPATH": str(ROOT)}
        http = _approve_and_finish(_background(plan, tmp_path, env), tmp_path)
        assert re.search(r"plan p-\w+: approved .*\n.*executing.*\n.*succeeded", http), http
        assert "outcome: plan" in http and "restart dev-01: succeeded (the agent identity" in http, http
        over_mcp = _approve_and_finish(_background([*plan, "--mcp", "--channel"], tmp_path, env), tmp_path, "--channel")
        assert "is approved" in over_mcp and "is succeeded" in over_mcp and "restart dev-01: succeeded" in over_mcp, over_mcp

        # no token (curl -i -X POST .../mcp): 401, and the metadata it names says where to get one
        try:
            urllib.request.urlopen(urllib.request.Request(f"http://localhost:{port}/mcp", method="POST", data=b"{}"), timeout=10)
            raise AssertionError("/mcp answered without a token")
        except urllib.error.HTTPError as e:
            assert (
                e.code == 401
                and f'resource_metadata="http://localhost:{port}/.well-known/oauth-protected-resource/mcp"' in e.headers["WWW-Authenticate"]
            )

        # your own agent: the example, written with the mcp SDK alone, with the variables the sandbox wrote
        agent_env = dict(env)
        for line in (tmp_path / ".sandbox" / "agent.env").read_text().splitlines():
            name, _, value = line.partition("=")
            agent_env[name] = value
        assert agent_env["MCP_URL"] == f"http://localhost:{port}/mcp" and os.path.isfile(agent_env["SSL_CERT_FILE"])
        example = _background([sys.executable, str(ROOT / "examples" / "mcp_agent.py"), "dev-01"], tmp_path, agent_env)
        out = _approve_and_finish(example, tmp_path, until="proposed plan")
        assert example.returncode == 0 and "succeeded" in out.splitlines()[-2], out
    finally:
        _stop(proc)
