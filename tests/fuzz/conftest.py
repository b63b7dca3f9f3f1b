"""Fuzzing fixtures: the hypothesis profiles, per-surface example counts, and one bot per test function.

Profiles (chosen with the environment variable HYPOTHESIS_PROFILE; `make test` uses `ci`, `make fuzz` uses `fuzz`):
- `ci`: a bounded, derandomized run (FUZZ_EXAMPLES examples per surface, default 30), so `make test` stays fast
  and gives the same examples on every run;
- `fuzz`: at least FUZZ_EXAMPLES examples per surface (default 10,000), randomized.
Both turn the deadline off (examples go over HTTP through the running bot, on shared CPUs) and keep no example
database (nothing written into the work tree). The examples run per surface are printed at the end; under `fuzz`
a surface below FUZZ_EXAMPLES fails the run. FUZZ_SETTLE_SECONDS (default 300) is how long an example waits for the
bot's background work before failing with what is still pending (guard.settle).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

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


def below_target() -> list[str]:
    return [surface for surface, n in sorted(COUNTS.items()) if n < EXAMPLES]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """`make fuzz` (the fuzz profile) fails when a surface that ran got fewer examples than the target: the run
    promised FUZZ_EXAMPLES per surface. The ci profile only prints it (a bounded, derandomized smoke run)."""
    if PROFILE == "fuzz" and below_target() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COUNTS:
        return
    terminalreporter.section(f"fuzz examples per surface (profile {PROFILE}, target {EXAMPLES})")
    for surface, n in sorted(COUNTS.items()):
        mark = "" if n >= EXAMPLES else "  BELOW TARGET"
        terminalreporter.write_line(f"{surface:<28}{n:>8}{mark}")
    if PROFILE == "fuzz" and below_target():
        terminalreporter.write_line(f"FAILED: below the target of {EXAMPLES} examples: {', '.join(below_target())}", red=True)


UNLIMITED = "1000000000"  # per minute: more than any fuzz run sends


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "bot.sqlite3"
    STORE_FILES.append(path)
    return path


SPREAD = 32  # conversations the fuzzed plans and alerts are spread over


FUZZ_CHANNEL = "19:sandbox-fuzz@thread.tacv2"  # where /api/plans examples post their cards (in SPREAD copies)


def spread_channel(channel_id: str, n: int) -> str:
    """The n-th of SPREAD copies of a channel. Teams paces a bot per thread (a channel with its reply chains):
    60 operations per 30 s, 1800 an hour (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit),
    which the sandbox models and the bot obeys; 10,000 examples in one channel would wait on that pace for hours."""
    return channel_id.replace("@", f"-{n % SPREAD}@", 1)


@pytest.fixture
def review_only_plans(sandbox: Sandbox, tmp_path: Path) -> Path:
    """The sandbox's response plans with every plan in review mode: a fuzzed alert may never write by itself.

    Each plan comes in SPREAD copies, each in its own channel and matching rules that end in " #<copy>", so alerts
    named that way spread over the copies (see spread_channel)."""
    plans: list[dict[str, Any]] = []
    for plan in sandbox.response_plans()["responsePlans"]:  # type: ignore[union-attr]
        for n in range(SPREAD):
            copy = json.loads(json.dumps(plan))
            copy.update(name=f"{plan['name']}-{n}", mode="review")
            copy["match"]["alertRules"] = [f"{rule} #{n}" for rule in plan["match"]["alertRules"]]
            copy["channel"]["id"] = spread_channel(plan["channel"]["id"], n)
            plans.append(copy)
    path = tmp_path / "response-plans.json"
    path.write_text(json.dumps({"responsePlans": plans}))
    return path


@pytest.fixture
def spread_callers(sandbox: Sandbox, tmp_path: Path) -> Path:
    """The sandbox's API caller, allowed to post into every copy of the fuzz channel (its `targets`)."""
    copies = [spread_channel(FUZZ_CHANNEL, n) for n in range(SPREAD)]
    path = tmp_path / "api-callers.json"
    path.write_text(json.dumps(sandbox.api_callers(*copies)))
    return path


@pytest.fixture
def bot(sandbox: Sandbox, store_path: Path, review_only_plans: Path, spread_callers: Path) -> Iterator[RunningBot]:
    """One bot per test function; plans never expire, nor remind anyone, during a run (no state change but the
    examples', and the follow-ups of plans a caller asked to expire sooner).

    The bot's own rate limits are lifted (they have their own tests, tests/services and tests/integration): with
    the defaults, /api/plans answered 429 from the 31st example of a minute on and chat examples met the person
    and conversation limits, so the fuzzer would have tested the limiter instead of the parser and the services."""
    running = start_bot(
        bot_settings(
            sandbox,
            store_path,
            PLAN_EXPIRY_MINUTES="1000000",
            CREDENTIALS_EXPIRY_MINUTES="1000000",
            # no reminders either: ten minutes into a run every waiting plan would remind its approvers, hundreds of
            # notes in the same two 1:1 chats, which Teams' per-thread pace (modelled) stretches past any settle time
            REMIND_AFTER_MINUTES="0",
            RESPONSE_PLANS_FILE=str(review_only_plans),
            API_CALLERS_FILE=str(spread_callers),
            RATE_LIMIT_API_PER_MINUTE=UNLIMITED,
            RATE_LIMIT_PERSON_PER_MINUTE=UNLIMITED,
            RATE_LIMIT_CONVERSATION_PER_MINUTE=UNLIMITED,
        )
    )
    yield running
    running.stop()


@pytest.fixture
async def driver(sandbox: Sandbox, bot: RunningBot) -> AsyncIterator[TeamsDriver]:
    async with sandbox.driver(bot.messages_url) as d:
        yield d
