"""The Connector simulator enforces Teams' documented rate limits by default, on its own clock (moved by the tests):
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from botbuilder.schema import Activity, ConversationParameters
from botframework.connector.aio import ConnectorClient
from botframework.connector.models import ErrorResponseException

from sandbox import Sandbox
from sandbox.connector.limits import TeamsLimits

from .test_connector import bot_credentials

CHANNEL = "19:sandbox-limits@thread.tacv2"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(sandbox.connector, "clock", fake)
    sandbox.connector.forget_limits()
    return fake


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[ConnectorClient]:
    async with ConnectorClient(bot_credentials(sandbox), base_url=sandbox.connector.base_url) as c:
        yield c


def sender(client: ConnectorClient, conversation: str) -> Callable[[], object]:
    return lambda: client.conversations.send_to_conversation(conversation, Activity(type="message", text="hello"))


async def refused(call: Callable[[], object]) -> str:
    """The `Retry-After` of a call Teams answers 429 Too Many Requests."""
    with pytest.raises(ErrorResponseException) as e:
        await call()  # type: ignore[misc]
    assert e.value.response.status_code == 429
    body = e.value.response.json()
    assert body["error"]["code"] == "TooManyRequests"  # the Connector's ErrorResponse, as for an injected 429
    return str(e.value.response.headers["Retry-After"])


async def test_a_thread_takes_7_sends_a_second_and_8_in_two_then_answers_429_until_a_slot_frees(
    sandbox: Sandbox, client: ConnectorClient, clock: Clock
) -> None:
    send = sender(client, f"{CHANNEL};messageid=1")
    for _ in range(7):
        await send()
    assert await refused(send) == "1"
    clock.now += 1  # the 1 s window has moved on; the 2 s window has room for one more
    await send()
    assert await refused(send) == "1"  # 8 in 2 s
    clock.now += 1
    await send()
    assert sandbox.connector.limited == 2


async def test_a_channel_s_reply_chains_share_the_channel_s_limit_and_other_threads_are_free(client: ConnectorClient, clock: Clock) -> None:
    """A thread is "a 1:1 chat, a group chat, or a channel in a team": every reply chain of a channel counts for it."""
    for i in range(7):
        await sender(client, f"{CHANNEL};messageid={i}")()
    assert await refused(sender(client, f"{CHANNEL};messageid=99")) == "1"
    await sender(client, "19:another-chat@thread.v2")()


async def test_60_sends_per_30_seconds_per_thread(client: ConnectorClient, clock: Clock) -> None:
    send, start = sender(client, CHANNEL), clock.now
    for _ in range(7):  # 8 every 2 seconds (7, then 1 a second later) up to 56, then 4 more: 60 in 14 seconds
        for _ in range(7):
            await send()
        clock.now += 1
        await send()
        clock.now += 1
    for _ in range(4):
        await send()
    assert await refused(send) == str(int(start + 30 - clock.now))  # until the first send leaves the 30 s window
    clock.now = start + 30
    await send()


async def test_create_conversation_counts_against_the_channel(sandbox: Sandbox, client: ConnectorClient, clock: Clock) -> None:
    channel = sandbox.world.channels[0].channel_id

    def create() -> object:
        return client.conversations.create_conversation(
            ConversationParameters(is_group=True, channel_data={"channel": {"id": channel}}, activity=Activity(type="message", text="x"))
        )

    for _ in range(7):
        await create()
    assert await refused(create) == "1"
    clock.now += 1
    await create()


async def test_member_fetches_take_14_a_second_per_thread(client: ConnectorClient, clock: Clock) -> None:
    def members() -> object:
        return client.conversations.get_conversation_members(CHANNEL)

    for _ in range(14):
        await members()
    assert await refused(members) == "1"
    await sender(client, CHANNEL)()  # sends are counted apart from member fetches
    clock.now += 1
    await members()


async def test_50_requests_a_second_per_app_across_threads_then_429_until_the_second_passes(client: ConnectorClient, clock: Clock) -> None:
    for i in range(50):  # 5 each in 10 chats: no thread is near its own limit
        await sender(client, f"19:global-{i % 10}@thread.v2")()
    assert await refused(sender(client, "19:a-quiet-chat@thread.v2")) == "1"
    assert await refused(lambda: client.conversations.get_conversation_members("19:another-quiet-chat@thread.v2")) == "1"
    clock.now += 1
    await sender(client, "19:a-quiet-chat@thread.v2")()


def test_1800_sends_an_hour_per_thread() -> None:
    """The hour window, on the limits alone (1,800 HTTP calls would say nothing more): 8 sends every 2 s stay under
    the short windows and 60 every 30 s; the 1,801st send in an hour waits for the first to leave the window."""
    limits, now, sent = TeamsLimits(), 0.0, 0
    while sent < 1800:
        if limits.admit("bot", "send", "chat", now) == 0:
            sent += 1
        else:
            now += 0.5
    assert now < 3600
    retry_after = limits.admit("bot", "send", "chat", now)
    assert retry_after > 30  # only the hour window is full: the 30 s window freed long ago
    assert limits.admit("bot", "send", "chat", now + retry_after) == 0


def test_the_per_app_limit_can_stand_aside_for_a_load_of_many_tenants_the_per_thread_limits_stay() -> None:
    """Teams counts 50 a second per app *per tenant*; the benchmark's turn rates stand for many tenants' conversations
    (tests/bench), so it turns the per-app window off. Each thread is still held to its own limits."""
    limits = TeamsLimits(per_app=False)
    assert all(limits.admit("bot", "send", f"chat-{i}", 0.0) == 0 for i in range(200))  # 200 threads in one second
    assert all(limits.admit("bot", "send", "one-chat", 0.0) == 0 for _ in range(7))
    assert limits.admit("bot", "send", "one-chat", 0.0) == 1  # the thread's 7 a second
    assert TeamsLimits().admit("bot", "send", "chat-x", 0.0) == 0  # on by default
