"""The catalog from chat, as a person uses it (both SDK adapters: BOT_SDK): the card shows the state now -> after and the
exact Azure request; approved, the request is sent exactly once; a state changed meanwhile stops it; `status`, `help`
and the nearest names speak every type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver

from .harness import Teams, card_text, find_action

PLAN_ID_TAIL = "/providers/Microsoft.Web/serverfarms/shop-plan"


@pytest.fixture
def shop_plan(sandbox: Sandbox) -> Iterator[object]:
    """The App Service plan at 3 instances for this test, and after it (the sandbox is shared by the session)."""
    plan = sandbox.world.estate.plans[0]
    plan.capacity = 3
    yield plan
    plan.capacity = 3


def _plan_writes(sandbox: Sandbox, since: int) -> list[tuple[str, str]]:
    return [(w.method, w.caller_oid) for w in sandbox.arm.writes[since:] if w.vm_id.endswith(PLAN_ID_TAIL)]


async def _grant(teams: Teams, chat: Conversation, card: object, sandbox: Sandbox) -> None:
    data = find_action(await teams.view("alice", chat, card), "grant")  # type: ignore[arg-type]
    assert data is not None
    await teams.click("alice", chat, card, "grant", data, token=sandbox.entra.sso_token("alice"), connection_name="sso")  # type: ignore[arg-type]


async def test_scale_plan_is_approved_refused_for_the_agent_and_done_once_with_alices_rights(
    teams: Teams, sandbox: Sandbox, chat: Conversation, shop_plan: object
) -> None:
    since = len(sandbox.arm.writes)
    card = await teams.ask("carol", "scale plan shop-plan to 4", chat)
    shown = card_text(card.card)
    assert "Instance count: 3 \u2192 4" in shown
    assert "Azure request: PUT \u2026/serverfarms/shop-plan with sku.capacity 4" in shown
    await teams.click("alice", chat, card, "approve")
    refused = card_text(await teams.wait_card(card, "credentials needed"))
    assert "Microsoft.Web/serverfarms/write" in refused and "Web Plan Contributor" in refused
    await _grant(teams, chat, card, sandbox)
    await teams.wait_card(card, "Succeeded")
    reply = await teams.wait_reply(card, "Succeeded")
    assert "on behalf of Alice Admin" in reply.text and "instance count 4" in reply.text
    assert _plan_writes(sandbox, since) == [("PUT", sandbox.world.user("alice").object_id)]  # exactly one write, as alice
    assert sandbox.world.estate.plans[0].capacity == 4


async def test_a_capacity_changed_out_of_band_stops_the_plan_before_anything_is_written(
    teams: Teams, sandbox: Sandbox, chat: Conversation, shop_plan: object
) -> None:
    since = len(sandbox.arm.writes)
    card = await teams.ask("carol", "scale plan shop-plan to 4", chat)
    sandbox.world.estate.plans[0].capacity = 5  # someone scales it in the portal meanwhile
    await teams.click("alice", chat, card, "approve")
    reply = await teams.wait_reply(card, "Failed")
    assert "Nothing was written: App Service plan shop-plan: its instance count is 5 now, not 3 as the card showed" in reply.text
    assert find_action(await teams.wait_card(card, "Failed"), "proposeAgain") is not None
    assert _plan_writes(sandbox, since) == []
    again = await teams.click("bob", chat, card, "proposeAgain")
    assert again.status == 200
    fresh = await teams.driver.wait_for(
        lambda m: m.card is not None and m.id != card.id and "5 \u2192 4" in card_text(m.card), conversation_id=chat.id
    )
    assert "Instance count: 5 \u2192 4" in card_text(fresh.card)


async def test_a_container_app_restart_is_done_by_the_agent_on_its_latest_revision(
    teams: Teams, sandbox: Sandbox, chat: Conversation
) -> None:
    revision = sandbox.world.estate.container_apps[0].revisions[-1]
    restarts = revision.restarts
    card = await teams.ask("carol", "restart containerapp orders-api", chat)
    assert "Active revision: orders-api--v2" in card_text(card.card)
    assert "POST \u2026/containerApps/orders-api/revisions/orders-api--v2/restart" in card_text(card.card)
    await teams.click("alice", chat, card, "approve")
    await teams.wait_card(card, "Succeeded")
    assert revision.restarts == restarts + 1


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("status plan shop-plan", "App Service plan **shop-plan in prod-rg**: instance count **3**, pricing tier **P1v3**."),
        ("status pool aks-prod/nodepool1", "Node pool **aks-prod/nodepool1 in platform-rg**: node count **3**."),
        ("status failovergroup sql-east/orders-fg", "replication role **Secondary**, partner server **sql-west (Primary)**"),
        ("status app shopp", "I found no web app named `shopp`. Did you mean `shop`?"),
        ("scale pool aks-prodd/nodepool1 to 4", "I found no AKS cluster named `aks-prodd`. Did you mean `aks-prod`?"),
        ("restart containerapp checkout", "Active: checkout--blue, checkout--green"),
        ("failover sql-west/orders-fg", "name the secondary: sql-east/orders-fg"),
        ("scale plan shop-plan to 0", "capacity must be a whole number, at least 1 and at most 100"),
        ("help", "`scale plan shop-plan to 4`"),
    ],
)
async def test_chat_speaks_every_type(driver: TeamsDriver, sandbox: Sandbox, chat: Conversation, said: str, answer: str) -> None:
    await driver.say(sandbox.world.user("carol"), said, chat)
    reply = await driver.wait_for(lambda m: answer in m.text, conversation_id=chat.id)
    assert reply.card is None
    assert not [m for m in await driver.bot_messages(chat.id) if m.card is not None]  # nothing was proposed


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        (
            "restart app /subscriptions/00000000-0000-0000-0000-00000000dead/resourceGroups/rg/providers/Microsoft.Web/sites/shop",
            "is outside the scopes I may act on",
        ),
        ("restart app ../shop", "That is not a valid web app name"),
        ("swap slot shop/st%2Fg", "That is not a valid deployment slot name"),
        ("scale pool aks-prod/Pool_1 to 3", "That is not a valid node pool name"),
        (
            "restart app /subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/prod-rg/providers/Microsoft.KeyVault/vaults/kv",
            "not a type I can act on",
        ),
    ],
)
async def test_names_and_scopes_of_every_type_are_checked_before_any_call_to_azure(
    driver: TeamsDriver, sandbox: Sandbox, chat: Conversation, said: str, answer: str
) -> None:
    since = len(sandbox.arm.requests)
    await driver.say(sandbox.world.user("carol"), said, chat)
    await driver.wait_for(lambda m: answer in m.text, conversation_id=chat.id)
    assert sandbox.arm.requests[since:] == []
