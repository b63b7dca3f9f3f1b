"""ConversationRefs (bot/ports.py): each person's 1:1 chat with the bot, on every store and on the in-memory fake.

Remembered from install events and personal messages, replaced by a newer one, forgotten on uninstall; a person is
known by (tenant, object id), so the same object id in another tenant is someone else."""

from __future__ import annotations

from typing import Any

from bot.ports import ConversationRef

from ..fakes import InMemoryStore

TENANT, OTHER_TENANT = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
ALICE = "aaaaaaaa-0000-0000-0000-000000000001"
CHAT = ConversationRef(TENANT, ALICE, "a:1on1-alice", "https://smba.example/teams/", "29:alice")


async def behaves_as_a_reference_table(store: Any) -> None:
    assert await store.personal_chat(TENANT, ALICE) is None
    await store.remember(CHAT)
    assert await store.personal_chat(TENANT, ALICE) == CHAT
    assert await store.personal_chat(OTHER_TENANT, ALICE) is None  # another tenant's person
    newer = ConversationRef(TENANT, ALICE, "a:1on1-alice-new", "https://smba.example/emea/", "29:alice")
    await store.remember(newer)  # reinstalled, or the service URL moved: the newest wins
    assert await store.personal_chat(TENANT, ALICE) == newer
    await store.forget(TENANT, ALICE)  # uninstalled
    assert await store.personal_chat(TENANT, ALICE) is None
    await store.forget(TENANT, ALICE)  # forgetting what is not there is harmless (events can repeat)


async def test_the_store_remembers_replaces_and_forgets_a_personal_chat(store: Any) -> None:
    await behaves_as_a_reference_table(store)


async def test_a_remembered_chat_is_seen_by_every_instance(instances: Any) -> None:
    first, second = instances(owner="first"), instances(owner="second")
    await first.remember(CHAT)
    assert await second.personal_chat(TENANT, ALICE) == CHAT


async def test_the_in_memory_fake_keeps_the_same_promises() -> None:
    await behaves_as_a_reference_table(InMemoryStore())


async def test_where_a_plan_was_asked_is_stored_with_it(store: Any) -> None:
    """A plan whose card went to the approvals channel keeps the requester's chat (`asked_in`), where the decision
    is told."""
    from dataclasses import replace

    from bot.domain.plan import Thread

    from ..unit.factories import proposed

    asked = Thread("https://smba.example/teams/", "a:1on1-carol", TENANT, "personal")
    async with store.unit_of_work() as uow:
        added = uow.add(replace(proposed(), id="p-asked0000001", asked_in=asked))
    stored = await store.get(added.id)
    assert stored is not None and stored.asked_in == asked
