"""The README's walk-throughs, as a newcomer runs them: every `sre-consent-bot` command of its "Walk-throughs" section,
in order, against one fresh `make run` sandbox. Each must succeed, and the text a comment quotes must be in what it
prints: the README says what each command does, and this holds it to that."""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.integration.test_cli import _clean_env, _cli, _start_sandbox, _stop
from tests.net import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
PROGRAM = ".venv/bin/sre-consent-bot"


@dataclass(frozen=True)
class Step:
    line: str
    args: list[str]
    expected: list[str]  # the comment's quoted texts


def walkthrough_steps(readme: str) -> list[Step]:
    """The commands of the Walk-throughs section's shell blocks, in order; the Agents Playground's subsection (it needs
    the Playground's browser client and an anonymous sandbox) is the Playground test's (tests/e2e/test_playground.py)."""
    walkthroughs = readme.split("\n## Walk-throughs\n", 1)[1].split("\n## ", 1)[0]
    section = "\n### ".join(part for part in walkthroughs.split("\n### ") if not part.startswith("Agents Playground"))
    steps = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
        for line in block.splitlines():
            if not line.startswith(PROGRAM + " "):
                continue
            command, _, comment = line.partition("  # ")
            args = shlex.split(command)[1:]
            if args[0] != "sandbox":
                steps.append(Step(line, args, re.findall(r'"([^"]+)"', comment)))
    return steps


def test_the_walkthroughs_are_read_as_the_readme_shows_them() -> None:
    steps = walkthrough_steps(README.read_text())
    first = steps[0]
    assert first.args == ["driver", "say", "--as", "carol", "help"] and first.expected == ["restart vm web-01 [in prod-rg]"]
    assert len(steps) >= 20 and all(s.expected for s in steps if s.args[1:2] in (["approve"], ["grant"], ["deny"], ["again"], ["alert"]))


def test_every_walkthrough_command_does_what_the_readme_says(tmp_path: Path) -> None:
    proc, banner = _start_sandbox(tmp_path, free_port())
    try:
        assert "Three things to try" in banner, banner
        for step in walkthrough_steps(README.read_text()):
            ran = _cli(*step.args, cwd=tmp_path, env=_clean_env())
            shown = ran.stdout + ran.stderr
            assert ran.returncode == 0, f"{step.line}\nexit code {ran.returncode}:\n{shown}"
            for text in step.expected:
                assert text in ran.stdout, f"{step.line}\nthe README says {text!r}; it printed:\n{shown}"
    finally:
        _stop(proc)
    assert proc.returncode == 0


if __name__ == "__main__":  # print the steps as the test reads them
    for s in walkthrough_steps(README.read_text()):
        print(s.args, s.expected, file=sys.stdout)
