"""Shared fixtures: one sandbox per test session, served on free loopback ports over HTTPS."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# No aiohttp import may happen before the CA is exported below: aiohttp builds its default SSL
# context at import time, and the sandbox CA must already be in SSL_CERT_FILE by then.
from sandbox.tls import SandboxTLS

if TYPE_CHECKING:
    from sandbox import Sandbox

    from .azurite import Azurite

# Created when this file is imported: pytest imports it before any nested conftest, so before aiohttp.
_TLS = SandboxTLS.create(Path(tempfile.mkdtemp(prefix="sre-consent-bot-ca-")))
# clients under test find the throwaway CA the way production finds a corporate CA
os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(_TLS.ca_path)
STORE_FILES: list[Path] = []  # every SQLite file a test bot used, scanned for secrets at the end
LOG_LINES: list[str] = []  # every log record of the session, formatted as production formats it
CALLBACK_BODIES: list[str] = []  # every callback event the test receivers got
SECRETS: list[str] = []  # secrets tests handed the bot (callback signing secrets): never in a log, the store or an event


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last: run after every other test (whole-suite checks)")
    config.addinivalue_line("markers", "scale: real processes, kill -9, 5,000-alert floods (`make test-scale`; left out of `make test`)")
    config.addinivalue_line("markers", "heavy: a scale test that takes minutes (`make test-scale SCALE=all`)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        LOG_LINES.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def _capture_all_logs() -> Iterator[None]:
    """Keep every log line of the session, as the bot's JSON formatter writes it (DEBUG for our code)."""
    from bot.logs import JsonFormatter, quiet_sdks

    handler = _Collect(logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet_sdks()
    yield
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def sandbox_v1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The sandbox as infra/app-registrations.json configures it (v1 access tokens for the bot's API)."""
    from sandbox import Sandbox

    box = Sandbox.start(tmp_path_factory.mktemp("sandbox"), operation_seconds=0.05, tls=_TLS)
    yield box
    box.stop()


@pytest.fixture(scope="session")
def sandbox(sandbox_v1: Sandbox) -> Sandbox:
    return sandbox_v1


@pytest.fixture(scope="session")
def sandbox_v2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A second sandbox whose bot registration asks for v2 access tokens (the file's token version switched to 2)."""
    from sandbox import Sandbox
    from sandbox.registrations import variant
    from sandbox.world import demo_world

    world = demo_world(registrations=variant(token_version=2))
    box = Sandbox.start(tmp_path_factory.mktemp("sandbox-v2"), operation_seconds=0.05, tls=_TLS, world=world)
    yield box
    box.stop()


def each_token_version() -> Any:
    """A module-level override of the `sandbox` fixture: each test of the module runs twice, against the
    sandbox as the registrations file configures it (v1 tokens for the bot's API) and against `sandbox_v2`.

    Usage, in a test module: `sandbox = each_token_version()`.
    """

    # It asks for `sandbox_v1`, not for the `sandbox` it overrides: pytest would hand the parent the same
    # parameter, and a session fixture whose parameter changes is torn down and started again.
    @pytest.fixture(params=["v1", "v2"])
    def sandbox(request: pytest.FixtureRequest, sandbox_v1: Sandbox) -> Sandbox:
        box: Sandbox = sandbox_v1 if request.param == "v1" else request.getfixturevalue("sandbox_v2")
        assert box.world.bot.token_version == int(request.param[1])
        return box

    return sandbox


@pytest.fixture(autouse=True)
def _clean_sandbox_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults and per-user error modes never leak from one test into the next."""
    # fetched before the test (not after): a module may override `sandbox` with a function-scoped fixture
    box: Sandbox | None = request.getfixturevalue("sandbox") if "sandbox" in request.fixturenames else None
    yield
    if box is not None:
        box.entra.unavailable = False
        box.arm.clear_faults()
        box.connector.throttle(0)
        box.connector.not_in_team.clear()  # the app is in every team again
        box.connector.forget_limits()  # Teams' rate limits stay on; each test starts with their windows empty
        for user in box.world.users.values():
            user.obo_error = None


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite's Table and Queue services for the session (the Azure Table Storage store and the queue inbox)."""
    from .azurite import Azurite

    emulator = Azurite.start()
    yield emulator
    emulator.stop()
