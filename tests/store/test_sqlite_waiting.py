"""SQLite's index of who a waiting plan may be waiting for (`waiting_for`, which `pending` reads): kept by the units of
work, and built at open for the waiting plans of a file written without it."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from bot.adapters.store.sqlite import SqliteStore
from bot.domain.plan import PlanState

from ..unit.factories import every_state


async def test_the_waiting_plans_of_a_file_written_without_the_index_are_found_after_opening_it(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SqliteStore(path)
    waiting = replace(every_state()["awaiting_consent"], id="p-old")
    approver = sorted(waiting.policy.approvers)[0]
    async with store.unit_of_work() as uow:
        uow.add(waiting)
    assert [p.id for p in await store.waiting_for(approver)] == ["p-old"]
    store.close()
    with sqlite3.connect(path) as db:  # as a version without the index left it
        db.execute("DELETE FROM waiting_for")
    store = SqliteStore(path)
    try:
        assert [p.id for p in await store.waiting_for(approver)] == ["p-old"]
        stored = await store.get("p-old")
        assert stored is not None
        async with store.unit_of_work() as uow:  # decided: no longer waiting for anyone
            uow.save(replace(stored, state=PlanState.DENIED), stored.version)
        assert await store.waiting_for(approver) == []
    finally:
        store.close()
