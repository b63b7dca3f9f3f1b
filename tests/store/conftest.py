"""One store per backend for the contract suite: every test runs against each backend the same way."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.store.sqlite import SqliteStore
from bot.adapters.store.tables import TableStore

BACKENDS = ["sqlite", "azure-tables"]
Instances = Callable[..., Any]


@pytest.fixture(params=BACKENDS)
async def instances(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Instances]:
    """Opens stores of the backend under test sharing one database, as several bot instances do:
    `instances(owner="b", lease_seconds=0.3)`. All are closed at the end."""
    opened: list[Any] = []
    prefix = f"t{uuid.uuid4().hex[:12]}"

    def open_store(**options: Any) -> Any:
        if request.param == "sqlite":
            store: Any = SqliteStore(tmp_path / "contract.sqlite3", **options)
        else:
            emulator = request.getfixturevalue("azurite")
            store = TableStore.from_connection_string(emulator.connection_string, prefix=prefix, **options)
        opened.append(store)
        return store

    yield open_store
    for store in reversed(opened):
        if isinstance(store, TableStore):
            await store.aclose()
        else:
            store.close()


@pytest.fixture
def store(instances: Instances) -> Any:
    """A fresh, empty store (PlanStore and AuditLog) of the backend under test."""
    return instances(owner="first")
