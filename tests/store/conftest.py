"""One store per backend for the contract suite: every test runs against each backend the same way."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.store.sqlite import SqliteStore
from bot.adapters.store.tables import TableStore

BACKENDS = ["sqlite", "azure-tables"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """A fresh, empty store (PlanStore and AuditLog) of the backend under test."""
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "contract.sqlite3")
        yield sqlite
        sqlite.close()
    else:
        emulator = request.getfixturevalue("azurite")
        tables = TableStore.from_connection_string(emulator.connection_string, prefix=f"t{uuid.uuid4().hex[:12]}")
        yield tables
        await tables.aclose()
