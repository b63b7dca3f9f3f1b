"""POST /api/plans speaks the catalog: `{"operation", "resourceId", "parameters"}` for every type, the exact request
sent once approved; a delete, a type outside the catalog, a parameter out of bounds or a free-form request is a 400
naming the field (and ARM sees nothing); an operation the caller's entry does not allow, a 403 naming it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.driver import TeamsDriver

from .harness import RunningBot, Teams, card_text
from .test_plans_api import _body, _callers_file, _post, _token

SUB_PATH = "/subscriptions/{sub}/resourceGroups/{rg}/providers/{rest}"
SHOP_PLAN = "{sub}/resourceGroups/prod-rg/providers/Microsoft.Web/serverfarms/shop-plan"


def _rid(sandbox: Sandbox, rg: str, rest: str) -> str:
    return SUB_PATH.format(sub=sandbox.world.subscription_id, rg=rg, rest=rest)


async def test_a_web_app_restart_approved_makes_exactly_one_post_to_its_restart(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, teams: Teams
) -> None:
    app = _rid(sandbox, "platform-rg", "Microsoft.Web/sites/orders-web")
    since = len(sandbox.arm.requests)
    body = _body(sandbox, title="Restart orders-web", actions=[{"operation": "Restart", "resourceId": app}])
    status, answer = await _post(driver, bot, body, _token(sandbox))
    assert status == 202, answer
    card = await driver.wait_for(lambda m: m.card is not None and answer["id"] in card_text(m.card))
    assert "Azure request: POST \u2026/sites/orders-web/restart" in card_text(card.card) and "State: Running" in card_text(card.card)
    conversation = TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id)
    await teams.click("alice", conversation, card, "approve")
    await teams.wait_card(card, "Succeeded")
    posts = [(m, p) for m, p in sandbox.arm.requests[since:] if m != "GET"]
    assert posts == [("POST", f"{app}/restart")]
    async with driver.session.get(f"{bot.url}{answer['url']}", headers={"Authorization": f"Bearer {_token(sandbox)}"}) as r:
        summary = await r.json()
    assert summary["actions"][0]["request"] == {"method": "POST", "path": f"{app}/restart", "apiVersion": "2024-04-01", "body": None}
    assert summary["actions"][0]["resourceType"] == "Microsoft.Web/sites"


@pytest.mark.parametrize(
    ("action", "field", "said"),
    [
        ({"operation": "delete"}, "actions[0].operation", "supports restart, start, powerOff, stop, deallocate, redeploy"),
        (
            {"operation": "restart", "resourceId": "{sub}/resourceGroups/prod-rg/providers/Microsoft.KeyVault/vaults/kv-prod"},
            "actions[0].resourceId",
            "Microsoft.KeyVault/vaults is not a type I can act on; supported: Microsoft.Compute/virtualMachines",
        ),
        (
            {"operation": "scale", "resourceId": SHOP_PLAN, "parameters": {"capacity": 0}},
            "actions[0].parameters.capacity",
            "capacity must be a whole number, at least 1 and at most 100",
        ),
        (
            {"operation": "scale", "resourceId": SHOP_PLAN},
            "actions[0].parameters.capacity",
            "capacity is required",
        ),
        ({"operation": "restart", "path": "/subscriptions/x/delete"}, "actions[0].path", "not accepted"),
        ({"operation": "restart", "parameters": {"body": {"sku": 1}}}, "actions[0].parameters.body", "not a parameter of this operation"),
    ],
)  # fmt: skip
async def test_what_the_catalog_does_not_hold_is_a_400_naming_the_field_and_arm_sees_nothing(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, action: dict[str, Any], field: str, said: str
) -> None:
    vm = _body(sandbox)["actions"][0]["resourceId"]
    sent = {
        "resourceId": vm,
        **{k: v.format(sub=f"/subscriptions/{sandbox.world.subscription_id}") if isinstance(v, str) else v for k, v in action.items()},
    }
    since = len(sandbox.arm.requests)
    status, answer = await _post(driver, bot, _body(sandbox, actions=[sent]), _token(sandbox))
    assert status == 400, answer
    errors = {e["field"]: e["message"] for e in answer["errors"]}
    assert field in errors and said in errors[field], errors
    await bot.settled()
    assert sandbox.arm.requests[since:] == []  # refused before any call to Azure, reads included


async def test_an_operation_the_caller_may_not_use_is_a_403_naming_it(
    sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]
) -> None:
    sub = f"/subscriptions/{sandbox.world.subscription_id}"
    callers = [
        {"appId": sandbox.world.agent.client_id, "name": "SRE Agent", "scopes": [sub], "operations": ["Microsoft.Web/sites/*", "*/restart"]}
    ]
    bot = make_bot(API_CALLERS_FILE=_callers_file(tmp_path, callers))
    plan = _rid(sandbox, "prod-rg", "Microsoft.Web/serverfarms/shop-plan")
    since = len(sandbox.arm.requests)
    async with sandbox.driver(bot.messages_url) as driver:
        action = {"operation": "scale", "resourceId": plan, "parameters": {"capacity": 4}}
        status, answer = await _post(driver, bot, _body(sandbox, actions=[action]), _token(sandbox))
    assert status == 403 and answer["errors"][0]["field"] == "actions[0].operation"
    assert "may propose Microsoft.Web/sites/*, */restart" in answer["errors"][0]["message"]
    assert sandbox.arm.requests[since:] == []
