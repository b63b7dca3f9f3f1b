from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from azure.identity.aio import ClientSecretCredential

from bot.adapters.azure.arm_runner import ArmRunner
from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver

from ..conftest import STORE_FILES
from .harness import RunningBot, Teams, bot_settings, start_bot


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "bot.sqlite3"
    STORE_FILES.append(path)
    return path


@pytest.fixture
def store_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """The store the test bots use: SQLite, or with TEST_STORE=azure-tables the whole suite on Azurite."""
    if os.environ.get("TEST_STORE", "sqlite") != "azure-tables":
        return {}
    return azure_tables_settings(request)


def azure_tables_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """STORE=azure-tables on the session's Azurite, in tables and an alert queue of this test's own."""
    emulator = request.getfixturevalue("azurite")
    return {
        "STORE": "azure-tables",
        "AZURE_STORAGE_CONNECTION_STRING": emulator.connection_string,
        "STORE_TABLE_PREFIX": f"t{uuid.uuid4().hex[:12]}",
        "INBOX_QUEUE_NAME": f"alerts-{uuid.uuid4().hex[:12]}",
    }


@pytest.fixture
def bot(sandbox: Sandbox, store_path: Path, store_settings: dict[str, str]) -> Iterator[RunningBot]:
    running = start_bot(bot_settings(sandbox, store_path, **store_settings))
    yield running
    running.stop()


@pytest.fixture
async def driver(sandbox: Sandbox, bot: RunningBot) -> AsyncIterator[TeamsDriver]:
    async with sandbox.driver(bot.messages_url) as d:
        yield d


@pytest.fixture
def teams(driver: TeamsDriver, sandbox: Sandbox) -> Teams:
    return Teams(driver, sandbox)


@pytest.fixture
def chat(sandbox: Sandbox, request: pytest.FixtureRequest) -> Conversation:
    """A fresh group chat per test, so threads never mix."""
    return TeamsDriver.group_chat(sandbox.world.home_tenant_id, f"{request.node.originalname[:30]}-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def channel(sandbox: Sandbox) -> Conversation:
    return TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id)


@pytest.fixture
def make_bot(sandbox: Sandbox, store_path: Path, store_settings: dict[str, str]) -> Iterator[object]:
    """Start extra bot instances (other settings, or a restart on the same store)."""
    started: list[RunningBot] = []

    def make(clock: object = None, **overrides: str) -> RunningBot:
        running = start_bot(bot_settings(sandbox, store_path, **{**store_settings, **overrides}), clock)  # type: ignore[arg-type]
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def long_operations(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """ARM's long-running operations stay InProgress for `seconds` from now on (the Azure-AsyncOperation status the
    bot polls: learn.microsoft.com/azure/azure-resource-manager/management/async-operations); whatever is still
    running ends with the test, so the next test finds its VM free."""

    def take(seconds: float) -> None:
        monkeypatch.setattr(sandbox.arm, "operation_seconds", seconds)

    yield take
    for op in sandbox.arm.operations.values():
        op.ends = min(op.ends, sandbox.arm.clock())


@pytest.fixture
async def agent_credential(sandbox: Sandbox) -> AsyncIterator[ClientSecretCredential]:
    """The agent identity's credential, from the sandbox's Entra, as the bot holds it in production."""
    a = sandbox.world.agent
    async with ClientSecretCredential(
        sandbox.world.home_tenant_id, a.client_id, a.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    ) as cred:
        yield cred


@pytest.fixture
async def runner(sandbox: Sandbox, agent_credential: ClientSecretCredential) -> AsyncIterator[ArmRunner]:
    """ArmRunner against the sandbox's ARM, as the agent, polling long operations briskly."""
    r = ArmRunner(sandbox.arm.base_url, agent_credential, sandbox.world.subscription_id, polling_interval=0.01)
    yield r
    await r.close()
