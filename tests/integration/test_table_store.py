"""The bot on Azure Table Storage (STORE=azure-tables, on Azurite): a plan goes from request to result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.store.tables import TableStore
from bot.domain.plan import PlanState
from sandbox import Sandbox
from sandbox.driver import Conversation

from .conftest import azure_tables_settings
from .harness import RunningBot, Teams, bot_settings, start_bot


@pytest.fixture
def store_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    return azure_tables_settings(request)  # whatever TEST_STORE says: this module is about Table Storage


@pytest.fixture
def bot(sandbox: Sandbox, store_path: Path, store_settings: dict[str, str]) -> Iterator[RunningBot]:
    running = start_bot(bot_settings(sandbox, store_path, **store_settings))
    yield running
    running.stop()


async def test_approve_then_execute_on_azure_table_storage(
    teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot, store_path: Path
) -> None:
    store = bot.container.store
    assert isinstance(store, TableStore) and not store_path.exists()  # no SQLite file anywhere
    since = len(sandbox.arm.writes)
    card = await teams.ask("carol", "restart vm dev-01", chat)
    await teams.click("alice", chat, card, "approve")
    await teams.wait_card(card, "Succeeded")
    await teams.wait_reply(card, "Succeeded")
    assert sum(1 for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/dev-01")) == 1
    (plan,) = await store.in_states(set(PlanState))
    assert plan.state.value == "succeeded" and plan.version > 2
    events = [e.event for e in await store.events(plan.id)]
    assert events[0] == "plan_proposed" and "approval_given" in events
    async with teams.driver.session.get(f"{bot.url}/readyz") as r:
        assert r.status == 200 and (await r.json())["checks"]["store"] == "ok"
