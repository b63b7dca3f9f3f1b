"""One store per backend for the contract suite: every test runs against each backend the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.store.sqlite import SqliteStore

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """A fresh, empty store (PlanStore and AuditLog) of the backend under test."""
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "contract.sqlite3")
        yield sqlite
        sqlite.close()
