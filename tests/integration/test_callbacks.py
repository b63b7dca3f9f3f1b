"""Signed callbacks: each change of an agent's plan POSTed to its callback URL as a CloudEvent, signed as Standard
Webhooks says, delivered at least once and in order through the outbox; never anywhere but under the caller's prefixes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from bot.domain.plan import PlanState
from sandbox import Sandbox
from sandbox.driver import TeamsDriver
from sandbox.server import ServerThread

from ..conftest import CALLBACK_BODIES, SECRETS
from .harness import RunningBot, Teams, card_text, eventually
from .test_mcp import mcp_client
from .test_plans_api import _body, _callers_file, _token

SECRET_ENV = "SRE_AGENT_CALLBACK_SECRET"


@dataclass
class Delivery:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """An agent's webhook endpoint on loopback HTTPS: answers `answers` in order (then 200), keeps what it got."""

    base: str = ""
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Delivery] = field(default_factory=list)

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Delivery(time.monotonic(), request.path, dict(request.headers), body))
        CALLBACK_BODIES.append(body.decode())
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        return web.Response(status=status, headers=headers)

    def accepted(self) -> list[Delivery]:
        """The deliveries answered 2xx, in the order they came (what the agent took in)."""
        firsts = {d.headers["webhook-id"]: d for d in self.received}  # the last attempt of each event is the one taken
        return sorted(firsts.values(), key=lambda d: d.at)


@pytest.fixture
def receiver(sandbox: Sandbox) -> Iterator[Receiver]:
    thread = ServerThread("callback receiver")
    found = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", found.hook)
    port = thread.serve(app, host="localhost", ssl_context=sandbox.tls.server_context)
    found.base = f"https://localhost:{port}"
    yield found
    thread.stop()


@pytest.fixture
def secret() -> str:
    value = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    SECRETS.append(value)
    return value


def _agent_with_callbacks(sandbox: Sandbox, receiver: Receiver) -> list[dict[str, Any]]:
    """The callers file's entry for the agent: restarts in the subscription, callbacks to the receiver."""
    return [
        {
            "appId": sandbox.world.agent.client_id,
            "name": "SRE Agent",
            "scopes": [f"/subscriptions/{sandbox.world.subscription_id}"],
            "operations": ["restart"],
            "callbackUrls": [f"{receiver.base}/hooks/"],
            "callbackSecretEnv": SECRET_ENV,
        }
    ]


@pytest.fixture
def callback_bot(sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot], receiver: Receiver, secret: str) -> RunningBot:
    callers = _agent_with_callbacks(sandbox, receiver)
    return make_bot(API_CALLERS_FILE=_callers_file(tmp_path, callers), CALLBACK_RETRY_SECONDS="0.05", **{SECRET_ENV: secret})


def verify(secret: str, d: Delivery) -> dict[str, Any]:
    """The Standard Webhooks algorithm, spelled out: base64 of HMAC-SHA256 over `id.timestamp.body` with the secret's
    key; then the same check by the standardwebhooks package, which also bounds the timestamp."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{d.headers['webhook-id']}.{d.headers['webhook-timestamp']}.".encode() + d.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert expected in d.headers["webhook-signature"].split(" ")
    verified: dict[str, Any] = Webhook(secret).verify(d.body, d.headers)
    return verified


async def _propose(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, **body: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {_token(sandbox)}"}
    async with driver.session.post(f"{bot.url}/api/plans", json=_body(sandbox, **body), headers=headers) as r:
        return r.status, await r.json()


async def _approve(driver: TeamsDriver, sandbox: Sandbox, plan_id: str) -> None:
    card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card))
    channel = TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id)
    await Teams(driver, sandbox).click("alice", channel, card, "approve")


async def test_a_receiver_sees_the_approval_and_the_success_as_signed_cloudevents(
    sandbox: Sandbox, callback_bot: RunningBot, receiver: Receiver, secret: str
) -> None:
    token = _token(sandbox)
    async with sandbox.driver(callback_bot.messages_url) as driver:
        status, plan = await _propose(driver, callback_bot, sandbox, callback={"url": f"{receiver.base}/hooks/sre/plans"})
        assert status == 202, plan
        await _approve(driver, sandbox, plan["id"])

        async def succeeded() -> bool:
            return any(d.event["type"].endswith(".plan.succeeded") for d in receiver.received)

        await eventually(succeeded, "the success is called back")
        async with driver.session.get(f"{callback_bot.url}{plan['url']}", headers={"Authorization": f"Bearer {token}"}) as r:
            now = await r.json()
    events = [verify(secret, d) for d in receiver.received]
    assert [e["type"] for e in events] == [f"io.github.sre-consent-bot.plan.{s}" for s in ("approved", "executing", "succeeded")]
    for d, e in zip(receiver.received, events, strict=True):
        assert d.path == "/hooks/sre/plans" and d.headers["Content-Type"] == "application/cloudevents+json"
        assert e["specversion"] == "1.0" and e["id"] == d.headers["webhook-id"] and e["subject"] == plan["id"]
        assert e["source"].endswith(f"/api/plans/{plan['id']}") and e["time"].endswith("Z")
        assert e["data"]["state"] == e["type"].rsplit(".", 1)[1] and e["data"]["id"] == plan["id"]
    assert events[-1]["data"] == now  # data is the GET /api/plans/{id} body
    assert len({e["id"] for e in events}) == 3


async def test_a_retried_event_keeps_its_webhook_id_and_the_order_holds(
    sandbox: Sandbox, callback_bot: RunningBot, receiver: Receiver, secret: str
) -> None:
    receiver.answers = [(500, {}), (503, {})]  # the first event is refused twice, then taken
    async with sandbox.driver(callback_bot.messages_url) as driver:
        _, plan = await _propose(driver, callback_bot, sandbox, callback={"url": f"{receiver.base}/hooks/"})
        await _approve(driver, sandbox, plan["id"])

        async def all_in() -> bool:
            return len(receiver.accepted()) == 3

        await eventually(all_in, "every event is delivered")
    first = [d for d in receiver.received if d.headers["webhook-id"] == receiver.received[0].headers["webhook-id"]]
    assert len(first) == 3 and len({d.body for d in first}) == 1  # the same event, byte for byte, three times
    for d in receiver.received:
        verify(secret, d)  # each attempt signed afresh, and verifies
    assert [d.event["data"]["state"] for d in receiver.accepted()] == ["approved", "executing", "succeeded"]


async def test_429_is_tried_again_no_sooner_than_its_retry_after(sandbox: Sandbox, callback_bot: RunningBot, receiver: Receiver) -> None:
    receiver.answers = [(429, {"Retry-After": "1"})]
    async with sandbox.driver(callback_bot.messages_url) as driver:
        _, plan = await _propose(driver, callback_bot, sandbox, callback={"url": f"{receiver.base}/hooks/"})
        await _approve(driver, sandbox, plan["id"])

        async def again() -> bool:
            return len(receiver.received) >= 2

        await eventually(again, "the refused event is sent again")
    assert receiver.received[1].headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
    assert receiver.received[1].at - receiver.received[0].at >= 1.0


async def test_an_event_never_taken_is_a_dead_letter_after_callback_max_attempts(
    sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot], receiver: Receiver, secret: str
) -> None:
    callers = _agent_with_callbacks(sandbox, receiver)
    bot = make_bot(
        API_CALLERS_FILE=_callers_file(tmp_path, callers), CALLBACK_RETRY_SECONDS="0.01", CALLBACK_MAX_ATTEMPTS="3", **{SECRET_ENV: secret}
    )
    receiver.answers = [(500, {})] * 100
    async with sandbox.driver(bot.messages_url) as driver:
        _, plan = await _propose(driver, bot, sandbox, callback={"url": f"{receiver.base}/hooks/"})
        await _approve(driver, sandbox, plan["id"])

        async def given_up() -> bool:
            async with driver.session.get(f"{bot.url}/readyz") as r:
                return int((await r.json())["checks"]["outbox_dead_letters"]) == 3

        await eventually(given_up, "the three events are dead letters", timeout=30)
        async with driver.session.get(f"{bot.url}/readyz") as r:
            checks = (await r.json())["checks"]
    by_id: dict[str, int] = {}
    for d in receiver.received:
        by_id[d.headers["webhook-id"]] = by_id.get(d.headers["webhook-id"], 0) + 1
    assert list(by_id.values()) == [3, 3, 3] and "callbacks to agents" in checks["outbox"]
    dead = [e for e in await bot.container.store.events(plan["id"]) if e.event == "outbox_dead_letter"]
    assert len(dead) == 3 and {e.detail["kind"] for e in dead} == {"callback"} and {e.detail["error"] for e in dead} == {"HTTP 500"}


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/hooks/x",  # not https
        "https://localhost:{port}/hooksmith",  # not at a segment boundary
        "https://localhost:{port}/other/x",  # another path
        "https://127.0.0.1:{port}/hooks/x",  # another host
        "https://localhost:1/hooks/x",  # another port
        "https://localhost:{port}/hooks/../admin",  # climbs out
        "https://localhost:{port}/hooks/%2e%2e/admin",  # climbs out, encoded
        "https://localhost:{port}/hooks/x?code=secret",  # a secret in the URL
        "https://user:pw@localhost:{port}/hooks/x",  # credentials
        42,
    ],
)
async def test_a_callback_url_outside_the_callers_prefixes_is_a_400_and_nothing_is_sent(
    sandbox: Sandbox, callback_bot: RunningBot, receiver: Receiver, url: Any
) -> None:
    port = receiver.base.rsplit(":", 1)[1]
    callback = {"url": url.format(port=port) if isinstance(url, str) else url}
    async with sandbox.driver(callback_bot.messages_url) as driver:
        status, answer = await _propose(driver, callback_bot, sandbox, callback=callback)
        assert status == 400 and [e["field"] for e in answer["errors"]] == ["callback.url"]
        async with mcp_client(callback_bot, _token(sandbox)) as client:
            refused = await client.call_tool("propose_plan", _body(sandbox, callback=callback))
        assert refused.is_error and refused.structured_content == answer
        await callback_bot.settled()
    assert receiver.received == [] and not await callback_bot.container.store.in_states(set(PlanState))  # nothing sent, nothing stored


async def test_a_caller_without_callback_urls_may_not_ask_for_callbacks(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    status, answer = await _propose(driver, bot, sandbox, callback={"url": "https://agent.example/hooks/"})
    assert status == 400 and answer["errors"][0]["field"] == "callback.url" and "callbackUrls" in answer["errors"][0]["message"]


async def test_no_token_or_secret_is_in_an_event(sandbox: Sandbox, callback_bot: RunningBot, receiver: Receiver, secret: str) -> None:
    async with sandbox.driver(callback_bot.messages_url) as driver:
        _, plan = await _propose(driver, callback_bot, sandbox, callback={"url": f"{receiver.base}/hooks/"})
        await _approve(driver, sandbox, plan["id"])

        async def done() -> bool:
            return len(receiver.accepted()) == 3

        await eventually(done, "every event is delivered")
    issued = [*sandbox.entra.issued, *sandbox.channel.issued]
    needles = [secret, secret.removeprefix("whsec_"), *issued, *(t.rsplit(".", 1)[1] for t in issued)]
    for d in receiver.received:
        text = d.body.decode() + json.dumps({k: v for k, v in d.headers.items() if k.lower() != "webhook-signature"})
        assert not [n[:12] for n in needles if n in text]
