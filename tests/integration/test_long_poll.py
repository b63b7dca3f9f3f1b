"""GET /api/plans/{id} as a long-poll: ETag, If-None-Match and Prefer: wait (RFC 7240), on any instance."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from multidict import CIMultiDict

from sandbox import Sandbox
from sandbox.driver import TeamsDriver

from .conftest import azure_tables_settings
from .harness import RunningBot, Teams, card_text, eventually
from .test_plans_api import _body, _token

log = logging.getLogger(__name__)


async def _propose(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {_token(sandbox)}"}
    async with driver.session.post(f"{bot.url}/api/plans", json=_body(sandbox), headers=headers) as r:
        assert r.status == 202
        accepted: dict[str, Any] = await r.json()
    return accepted


async def _get(driver: TeamsDriver, bot: RunningBot, url: str, token: str, **headers: str) -> tuple[int, CIMultiDict[str], Any]:
    async with driver.session.get(f"{bot.url}{url}", headers={"Authorization": f"Bearer {token}", **headers}) as r:
        body = await r.json() if r.status == 200 else None
        return r.status, r.headers.copy(), body


async def _approve(teams: Teams, driver: TeamsDriver, sandbox: Sandbox, plan_id: str) -> float:
    """alice approves the plan's card; the time the click was answered."""
    card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card))
    await teams.click("alice", TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id), card, "approve")
    return time.monotonic()


async def test_the_etag_follows_every_change_and_a_matching_tag_is_304(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    token = _token(sandbox)
    plan = await _propose(driver, bot, sandbox)
    status, headers, first = await _get(driver, bot, plan["url"], token)
    assert status == 200 and headers["ETag"].startswith('"') and first["state"] == "awaiting_consent"
    # conditional, no wait: answered at once
    status, again, _ = await _get(driver, bot, plan["url"], token, **{"If-None-Match": headers["ETag"]})
    assert status == 304 and again["ETag"] == headers["ETag"] and "Preference-Applied" not in again
    # held for the time asked, then 304 saying the preference was applied
    status, held, _ = await _get(driver, bot, plan["url"], token, **{"If-None-Match": headers["ETag"], "Prefer": "wait=1"})
    assert status == 304 and held["Preference-Applied"] == "wait=1" and held["ETag"] == headers["ETag"]
    # a tag that is no longer current gets the plan at once
    status, changed, _ = await _get(driver, bot, plan["url"], token, **{"If-None-Match": '"p-0.1"', "Prefer": "wait=60"})
    assert status == 200 and changed["ETag"] == headers["ETag"] and changed["Preference-Applied"] == "wait=60"
    # an ignored preference (not a number) leaves the request conditional only
    status, odd, _ = await _get(driver, bot, plan["url"], token, **{"If-None-Match": headers["ETag"], "Prefer": "wait=soon"})
    assert status == 304 and "Preference-Applied" not in odd


async def test_a_long_poll_started_before_alices_click_returns_with_the_change(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, teams: Teams
) -> None:
    token = _token(sandbox)
    plan = await _propose(driver, bot, sandbox)
    _, headers, _ = await _get(driver, bot, plan["url"], token)
    # asks for longer than the bot holds a request: held at most 120 s, and it says so
    poll = asyncio.create_task(
        _get(driver, bot, plan["url"], token, **{"If-None-Match": headers["ETag"], "Prefer": "respond-async, wait=600"})
    )
    clicked = await _approve(teams, driver, sandbox, plan["id"])
    status, answer, body = await poll
    log.info("long-poll answered %.3f s after the click was", time.monotonic() - clicked)
    assert status == 200 and answer["Preference-Applied"] == "wait=120"  # the change, not the timeout, ended it
    assert answer["ETag"] != headers["ETag"] and body["state"] in ("approved", "executing", "succeeded")
    assert body["approvedBy"] == [sandbox.world.user("alice").display_name]


@pytest.mark.parametrize("waits_on", ["the other instance", "the same instance"])
async def test_a_long_poll_on_one_instance_sees_a_click_answered_by_another_on_table_storage(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot], request: pytest.FixtureRequest, waits_on: str
) -> None:
    shared = azure_tables_settings(request)
    clicked_on, polled = make_bot(**shared), make_bot(**shared)
    if waits_on == "the same instance":
        polled = clicked_on
    token = _token(sandbox)
    async with sandbox.driver(clicked_on.messages_url) as driver:
        plan = await _propose(driver, clicked_on, sandbox)
        _, headers, _ = await _get(driver, polled, plan["url"], token)
        poll = asyncio.create_task(_get(driver, polled, plan["url"], token, **{"If-None-Match": headers["ETag"], "Prefer": "wait=60"}))
        clicked = await _approve(Teams(driver, sandbox), driver, sandbox, plan["id"])
        status, answer, body = await poll
    log.info("long-poll on %s answered %.3f s after the click was", waits_on, time.monotonic() - clicked)
    assert status == 200 and answer["Preference-Applied"] == "wait=60" and body["state"] != "awaiting_consent"


async def test_a_held_request_is_answered_304_when_the_instance_shuts_down(sandbox: Sandbox, make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot()
    token = _token(sandbox)
    async with sandbox.driver(bot.messages_url) as driver:
        plan = await _propose(driver, bot, sandbox)
        await bot.settled()
        _, headers, _ = await _get(driver, bot, plan["url"], token)
        poll = asyncio.create_task(_get(driver, bot, plan["url"], token, **{"If-None-Match": headers["ETag"], "Prefer": "wait=120"}))
        await eventually(lambda: _held(bot), "the request is held")
        await asyncio.to_thread(bot.stop)  # a restart: the held request is answered, not cut off
        status, answer, _ = await poll
    assert status == 304 and answer["ETag"] == headers["ETag"]


async def _held(bot: RunningBot) -> bool:
    watch = bot.container.watch
    return watch is not None and watch.watching > 0
