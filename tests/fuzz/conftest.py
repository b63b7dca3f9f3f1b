"""Fuzzing fixtures: the hypothesis profiles, per-surface example counts, and one bot per test function.

Profiles (chosen with the environment variable HYPOTHESIS_PROFILE; `make test` uses `ci`, `make fuzz` uses `fuzz`):
- `ci`: a bounded, derandomized run (FUZZ_EXAMPLES examples per surface, default 30), so `make test` stays fast
  and gives the same examples on every run;
- `fuzz`: at least FUZZ_EXAMPLES examples per surface (default 10,000), randomized.
Both turn the deadline off (examples go over HTTP through the running bot, on shared CPUs) and keep no example
database (nothing written into the work tree).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from sandbox import Sandbox
from sandbox.driver import TeamsDriver

from ..conftest import STORE_FILES
from ..integration.harness import RunningBot, bot_settings, start_bot

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
_DEFAULT_EXAMPLES = {"ci": 30, "fuzz": 10_000}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or _DEFAULT_EXAMPLES.get(PROFILE, 30))
# fixtures are shared by the examples of one test on purpose (one bot per test function): the properties,
# checked after every example, are what examples have in common
_HEALTH = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]
settings.register_profile(
    "ci", max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=_HEALTH, print_blob=True
)
settings.register_profile("fuzz", max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=_HEALTH, print_blob=True)
# applied per test (a decorator), so loading it changes nothing for the other hypothesis tests of the suite
FUZZ = settings(settings.get_profile(PROFILE if PROFILE in _DEFAULT_EXAMPLES else "ci"))

COUNTS: Counter[str] = Counter()  # examples run per surface (shrinking included), printed at the end


def count(surface: str) -> None:
    COUNTS[surface] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COUNTS:
        return
    terminalreporter.section(f"fuzz examples per surface (profile {PROFILE}, target {EXAMPLES})")
    for surface, n in sorted(COUNTS.items()):
        mark = "" if n >= EXAMPLES else "  BELOW TARGET"
        terminalreporter.write_line(f"{surface:<28}{n:>8}{mark}")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "bot.sqlite3"
    STORE_FILES.append(path)
    return path


@pytest.fixture
def review_only_plans(sandbox: Sandbox, tmp_path: Path) -> Path:
    """The sandbox's response plans with every plan in review mode: a fuzzed alert may never write by itself."""
    plans = sandbox.response_plans()
    for plan in plans["responsePlans"]:  # type: ignore[union-attr]
        plan["mode"] = "review"
    path = tmp_path / "response-plans.json"
    path.write_text(json.dumps(plans))
    return path


@pytest.fixture
def bot(sandbox: Sandbox, store_path: Path, review_only_plans: Path) -> Iterator[RunningBot]:
    """One bot per test function; plans never expire during a run (no state change but the examples')."""
    running = start_bot(
        bot_settings(
            sandbox,
            store_path,
            PLAN_EXPIRY_MINUTES="1000000",
            CREDENTIALS_EXPIRY_MINUTES="1000000",
            RESPONSE_PLANS_FILE=str(review_only_plans),
        )
    )
    yield running
    running.stop()


@pytest.fixture
async def driver(sandbox: Sandbox, bot: RunningBot) -> AsyncIterator[TeamsDriver]:
    async with sandbox.driver(bot.messages_url) as d:
        yield d
