"""Table Storage cannot forbid the bot's identity to update an audit row it may insert: a rewrite is detected by the
Timestamp the service stamps on every write, against the write time in the row's key (issue 25, point 8)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.adapters.store.tables import TableStore
from bot.adapters.store.tables.entities import event_entity
from bot.domain import transitions as t
from bot.domain.audit import AuditEvent

from ..azurite import Azurite
from ..unit.factories import ALICE, NOW, proposed


@pytest.fixture
async def tables(azurite: Azurite) -> AsyncIterator[TableStore]:
    store = TableStore.from_connection_string(azurite.connection_string, prefix=f"t{uuid.uuid4().hex[:12]}")
    yield store
    await store.aclose()


async def test_audit_rows_the_bot_wrote_are_not_flagged_and_a_rewritten_one_is(tables: TableStore) -> None:
    added = await tables.add(proposed())
    event = AuditEvent(NOW, added.id, ALICE.object_id, ALICE.name, "approval_given", "awaiting_consent", "approved")
    await tables.save_with_events(t.present(added, NOW), 1, [event])
    assert await tables.rewritten_audit() == []  # as the bot wrote them
    # a row written an hour ago that the service stamps now: exactly what an update of it an hour later looks like
    hour_ago = time.time_ns() - 3600 * 10**9
    forged = {**event_entity(event, added.id, hour_ago), "Event": "approval_given_by_nobody"}
    await tables._plans.create_entity(forged)
    (found,) = await tables.rewritten_audit()
    assert (found.plan_id, found.row_key, found.event) == (added.id, forged["RowKey"], "approval_given_by_nobody")
    assert (found.last_written - found.written).total_seconds() > 3000


def test_the_cli_names_a_rewritten_row_and_exits_1(
    azurite: Azurite, tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sre-consent-bot audit --verify`, run by an operator (or on a schedule) with the bot's settings."""
    import asyncio

    from bot.__main__ import main

    prefix = f"t{uuid.uuid4().hex[:12]}"
    guid = "00000000-0000-0000-0000-000000000001"
    env = {"STORE": "azure-tables", "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string, "STORE_TABLE_PREFIX": prefix}
    for name, value in {**env, "AZURE_TENANT_ID": guid, "DEFAULT_SUBSCRIPTION_ID": guid}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(str(tmp_path))  # no .env here

    async def write(forge: bool) -> None:
        store = TableStore.from_connection_string(azurite.connection_string, prefix=prefix)
        added = await store.add(replace(proposed(), id=f"p-{uuid.uuid4().hex[:12]}"))
        event = AuditEvent(NOW, added.id, ALICE.object_id, ALICE.name, "approval_given", "awaiting_consent", "approved")
        await store.save_with_events(t.present(added, NOW), 1, [event])
        if forge:
            await store._plans.create_entity(event_entity(event, added.id, time.time_ns() - 3600 * 10**9))
        await store.aclose()

    asyncio.run(write(forge=False))
    main(["audit", "--verify"])
    assert "no audit row was rewritten" in capsys.readouterr().out
    asyncio.run(write(forge=True))
    with pytest.raises(SystemExit) as e:
        main(["audit", "--verify"])
    assert e.value.code == 1 and "audit row rewritten after it was written" in capsys.readouterr().out
