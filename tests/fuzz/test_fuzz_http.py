"""Fuzzing the HTTP API: `POST /api/plans` bodies (any JSON, and near-valid mutations of a valid plan) and
`POST /api/incidents` payloads (any JSON, and mutations of a common-schema alert), through the running bot.

Answers are 2xx or 4xx, never 5xx. A body may be accepted (that is the API's job), and then the only change is new
plans waiting for consent inside the allowed scope; nothing already stored changes, and ARM sees no write (the
fuzzing bot's response plans are all in review mode, so an accepted alert cannot act by itself).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from hypothesis import given
from hypothesis import strategies as st

from sandbox import Sandbox
from sandbox.driver import TeamsDriver
from sandbox.monitor import alert_payload
from sandbox.reprs import PrintsOwnRepr

from ..integration.harness import RunningBot, eventually
from .conftest import FUZZ, FUZZ_CHANNEL, SPREAD, count, spread_channel
from .guard import SETTLE_SECONDS, assert_not_5xx, assert_preserved, awaiting_consent_in, settle, snapshot, starting_snapshot
from .strategies import JSON, mutated

CHANNEL = FUZZ_CHANNEL
SPREAD_INDEX = st.integers(0, SPREAD - 1)  # which copy of the channel (or response plan) an example aims at


@dataclass(frozen=True)
class AgentToken(PrintsOwnRepr):
    """The agent's bearer token, kept out of what a failing example prints (see test_fuzz_reports.py)."""

    token: str = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def agent_token(sandbox: Sandbox) -> AgentToken:
    """An app-only token of the registered agent for the bot's API (valid for an hour: longer than a CI run)."""
    app = sandbox.world.agent
    cred = ClientSecretCredential(
        sandbox.world.home_tenant_id, app.client_id, app.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
    return AgentToken(cred.get_token(f"{sandbox.world.bot.app_id_uri}/.default").token)


def _valid_plan(sandbox: Sandbox, n: int = 0) -> dict[str, Any]:
    """A plan the API accepts, aimed at the n-th of the spread channels."""
    vms = {v.name: v for v in sandbox.world.vms}
    return {
        "title": "Restart dev-01",
        "rationale": "Memory leak",
        "actions": [{"operation": "restart", "resourceId": vms["dev-01"].id}, {"operation": "start", "resourceId": vms["web-02"].id}],
        "target": {"channelId": spread_channel(CHANNEL, n), "serviceUrl": sandbox.connector.base_url},
        "approvers": [sandbox.world.user("alice").object_id],
        "approvalsRequired": 1,
        "expiresInMinutes": 15,
    }


async def _post(driver: TeamsDriver, url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    async with driver.session.post(url, json=body, headers=headers) as r:
        return r.status, await r.text()


@FUZZ
@given(data=st.data())
async def test_plans_api_answers_4xx_or_a_plan_waiting_for_consent(
    data: st.DataObject, sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, store_path: Path, agent_token: AgentToken
) -> None:
    count("/api/plans bodies")
    valid = _valid_plan(sandbox, data.draw(SPREAD_INDEX))
    body = data.draw(st.one_of(mutated(valid), mutated(valid, max_mutations=1), JSON))
    before = await starting_snapshot(bot, store_path, sandbox)
    status, text = await _post(driver, f"{bot.url}/api/plans", body, agent_token.headers)
    assert_not_5xx(status, text)
    # 429 is deliberately not accepted, although it is a 4xx that changes nothing: the fixture lifts the rate limits,
    # so a 429 can only mean the examples stopped reaching the parser and the services (the limiter answering
    # instead, as in a 10,000-example run with the defaults), and a run that tests nothing must not pass
    assert status in (202, 400, 403), (status, text[:500])
    if status == 403:  # a valid token: only a target outside the caller's `targets` is forbidden
        assert json.loads(text)["errors"][0]["field"] == "target", text[:500]
    await settle(bot)
    added = assert_preserved(
        before, snapshot(store_path, sandbox), sandbox, awaiting_consent_in(f"/subscriptions/{sandbox.world.subscription_id}", "api")
    )
    assert len(added) == (1 if status == 202 else 0)


def _valid_alert(sandbox: Sandbox, n: int = 0) -> dict[str, Any]:
    """An alert a response plan acts on, named for the n-th of the plan's spread copies."""
    vms = [v for v in sandbox.world.vms if v.name in ("dev-01", "web-02")]
    return alert_payload(f"High CPU on dev-01 #{n}", vms, severity="Sev2")


@FUZZ
@given(data=st.data())
async def test_incidents_api_answers_4xx_or_plans_waiting_for_consent(
    data: st.DataObject, sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, store_path: Path
) -> None:
    count("/api/incidents payloads")
    # a fresh valid alert each time (its own alertId), mutated, or anything at all; the secret right or wrong
    valid = _valid_alert(sandbox, data.draw(SPREAD_INDEX))
    body = data.draw(st.one_of(mutated(valid), mutated(valid, max_mutations=1), JSON))
    # drawn by name, so a failing example prints the name and not the secret
    codes = {"right": sandbox.webhook_secret, "empty": "", "wrong": "wrong", "one character short": sandbox.webhook_secret[:-1]}
    code = codes[data.draw(st.sampled_from(["right"] * 4 + ["empty", "wrong", "one character short"]))]
    before = await starting_snapshot(bot, store_path, sandbox)
    status, text = await _post(driver, f"{bot.url}/api/incidents?code={code}", body, {})
    assert_not_5xx(status, text)
    assert status in (200, 202, 400, 401), (status, text[:500])
    await settle(bot)
    added = assert_preserved(
        before, snapshot(store_path, sandbox), sandbox, awaiting_consent_in(f"/subscriptions/{sandbox.world.subscription_id}", "incident")
    )
    if status != 202 or code != sandbox.webhook_secret:
        assert not added, (status, added)


async def test_the_documents_mutated_above_are_valid(
    sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, agent_token: AgentToken
) -> None:
    """The near-valid mutations start from documents the bot accepts (else they would test nothing)."""
    status, text = await _post(driver, f"{bot.url}/api/plans", _valid_plan(sandbox), agent_token.headers)
    assert status == 202, text
    status, text = await _post(driver, f"{bot.url}/api/incidents?code={sandbox.webhook_secret}", _valid_alert(sandbox), {})
    assert status == 202, text


@pytest.mark.parametrize("expiry", [1440000000000.0, 1e300, "NaN", "Infinity"])
async def test_an_expiry_too_large_for_a_clock_is_a_400_naming_the_field(
    expiry: object, sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, agent_token: AgentToken
) -> None:
    """Found by the fuzzer: an expiresInMinutes beyond what a timedelta holds was an HTTP 500."""
    body = json.dumps(_valid_plan(sandbox)).replace('"expiresInMinutes": 15', f'"expiresInMinutes": {expiry}')
    headers = {**agent_token.headers, "Content-Type": "application/json"}
    async with driver.session.post(f"{bot.url}/api/plans", data=body, headers=headers) as r:
        status, answer = r.status, await r.json(content_type=None)
    assert status == 400, answer
    assert [e["field"] for e in answer["errors"]] == ["expiresInMinutes"]


async def test_an_example_starts_once_the_work_left_by_the_one_before_is_done(
    sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, store_path: Path
) -> None:
    """Found by the fuzzer: an example whose settle() ran out of time failed, and the next example (Hypothesis
    shrinking the first) saw the first one's plan saved again (its card posted late: version 1 -> 2) and reported
    a second, unreproducible failure. Each example's snapshot is now taken once the bot is idle."""
    sandbox.connector.set_outage(True)  # Teams answers 502: the alert's thread and card wait in the outbox
    try:
        status, text = await _post(driver, f"{bot.url}/api/incidents?code={sandbox.webhook_secret}", _valid_alert(sandbox), {})
        assert status == 202, text

        async def retried() -> bool:  # the plan is stored and its thread failed twice: the next try is >= 0.5 s away
            conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
            try:
                return (
                    conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0] == 1
                    and (conn.execute("SELECT MAX(attempts) FROM outbox").fetchone()[0] or 0) >= 2
                )
            finally:
                conn.close()

        await eventually(retried, "the alert's plan stored and its thread tried twice", timeout=SETTLE_SECONDS)
    finally:
        sandbox.connector.set_outage(False)
    before = await starting_snapshot(bot, store_path, sandbox)  # the next example, while that card still waits
    status, _ = await _post(driver, f"{bot.url}/api/incidents?code=wrong", _valid_alert(sandbox), {})
    assert status == 401
    await settle(bot)
    assert_preserved(before, snapshot(store_path, sandbox), sandbox)
