"""The loads of `make bench`, shaped as Teams delivers them, and how each answer is judged.

- Messages (`help` to the bot, the same text to the echoes) go to many group chats, each given at most `PER_THREAD`
  messages in the whole run and each from one person, so no conversation is ever near Teams' per-thread limits (7
  sends a second, 8 per 2 s, 60 per 30 s, 1,800 an hour per bot per thread), whichever server replies and however
  fast. A message counts as answered when the server answered 2xx *and* its reply reached the Bot Connector; the
  clock stops at the last reply, so work a server defers (the bot's outbox) is inside the measured time, and the
  quantiles are from the message sent to its reply taken by the Connector.
- Card clicks (`adaptiveCard/action` invokes) are answered in the invoke response: 200 with an Adaptive Card.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.world import HOME_TENANT_ID, User

CARD = "application/vnd.microsoft.card.adaptive"
PER_THREAD = 7  # messages one chat gets in the whole run: within every per-thread window at any speed
REPLY_WAIT = 120.0  # seconds after the last answer a reply may still take (the bot's outbox) before it is failed


@dataclass
class Result:
    load: str
    server: str
    count: int
    concurrency: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failed: int
    latencies: list[float] = field(default_factory=list, repr=False)
    elapsed: float = 0.0


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] * 1000 if values else 0.0


def result(load: str, server: str, concurrency: int, latencies: list[float], failed: int, elapsed: float) -> Result:
    latencies = sorted(latencies)
    count = len(latencies) + failed
    return Result(
        load,
        server,
        count,
        concurrency,
        count / elapsed if elapsed else 0.0,
        quantile(latencies, 0.5),
        quantile(latencies, 0.95),
        quantile(latencies, 0.99),
        failed,
        latencies,
        elapsed,
    )


def merge(parts: list[Result]) -> Result:
    """One row from a load's rounds: requests over the time they took together, quantiles over all the latencies."""
    first = parts[0]
    return result(
        first.load,
        first.server,
        first.concurrency,
        [x for r in parts for x in r.latencies],
        sum(r.failed for r in parts),
        sum(r.elapsed for r in parts),
    )


class Chats:
    """Fresh group chats for one server: every batch of messages gets chats of its own, `PER_THREAD` messages each."""

    def __init__(self, key: str) -> None:
        self._key, self._made = key, 0

    def messages(self, driver: TeamsDriver, people: list[User], count: int, text: str = "help") -> list[dict[str, Any]]:
        """`count` messages spread round robin over ceil(count / PER_THREAD) new chats, each chat from one person."""
        chats = [self._new() for _ in range(math.ceil(count / PER_THREAD))]
        senders = [people[(self._made - len(chats) + i) % len(people)] for i in range(len(chats))]
        return [driver.message(senders[i % len(chats)], text, chats[i % len(chats)]) for i in range(count)]

    def _new(self) -> Conversation:
        self._made += 1
        return TeamsDriver.group_chat(HOME_TENANT_ID, f"bench-{self._key}-{self._made}")


class Replies:
    """The replies the Connector took, by the id of the activity they answer, read from the sandbox's own loop."""

    def __init__(self, box: Sandbox) -> None:
        self._box, self._seen = box, 0
        self.at: dict[str, float] = {}  # replied-to activity id -> when the Connector took the reply (epoch seconds)

    async def refresh(self) -> None:
        async def new() -> list[Any]:
            return list(itertools.islice(self._box.connector.activities.values(), self._seen, None))

        fresh = await asyncio.to_thread(self._box.thread.call, new)
        self._seen += len(fresh)
        for posted in fresh:
            stamp = posted.activity.get("timestamp")
            if posted.reply_to_id and stamp:
                self.at.setdefault(posted.reply_to_id, datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())

    async def wait(self, ids: set[str], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        await self.refresh()
        while not ids <= self.at.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await self.refresh()


Post = Callable[[dict[str, Any]], Awaitable[bool]]


async def fire(activities: list[dict[str, Any]], post: Post, concurrency: int) -> tuple[dict[str, float], set[str], float, float]:
    """POST every activity, `concurrency` at a time. Returns (sent at, by id), the ids answered as expected, and the
    epoch seconds of the first send and the last answer."""
    queue = list(reversed(activities))
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}

    async def worker() -> None:
        while queue:
            activity = queue.pop()
            sent[activity["id"]] = time.time()
            if await post(activity):
                answered[activity["id"]] = time.time()

    started = time.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent, set(answered), started, time.time()


async def messages(
    load: str, server: str, activities: list[dict[str, Any]], driver: TeamsDriver, replies: Replies, concurrency: int
) -> Result:
    """Messages answered 2xx, each with its reply at the Connector; the clock stops at the last reply."""
    sent, answered, started, ended = await fire(activities, answers(driver, invoke=False), concurrency)
    await replies.wait(answered, REPLY_WAIT)
    done = [i for i in answered if i in replies.at]
    last = max([ended, *(replies.at[i] for i in done)])
    latencies = [max(0.0, replies.at[i] - sent[i]) for i in done]
    return result(load, server, concurrency, latencies, len(activities) - len(done), last - started)


async def clicks(load: str, server: str, activities: list[dict[str, Any]], driver: TeamsDriver, concurrency: int) -> Result:
    """Card clicks, each answered 200 with an Adaptive Card in the invoke response."""
    latencies: list[float] = []
    check = answers(driver, invoke=True)

    async def post(activity: dict[str, Any]) -> bool:
        t = time.perf_counter()
        ok = await check(activity)
        if ok:
            latencies.append(time.perf_counter() - t)
        return ok

    _, answered, started, ended = await fire(activities, post, concurrency)
    return result(load, server, concurrency, latencies, len(activities) - len(answered), ended - started)


def answers(driver: TeamsDriver, invoke: bool) -> Post:
    async def post(activity: dict[str, Any]) -> bool:
        try:
            answer = await driver.post(activity)
        except Exception:  # a reset or timeout on a loaded machine: that request failed
            return False
        if not invoke:
            return answer.status < 300
        return answer.status == 200 and answer.status_code == 200 and answer.type == CARD

    return post


def echo_clicks(driver: TeamsDriver, people: list[User], count: int, key: str) -> list[dict[str, Any]]:
    """Clicks on an echo's card, one person in one chat each, as the Approve load clicks the bot's."""
    chats = [TeamsDriver.group_chat(HOME_TENANT_ID, f"click-{key}-{i}") for i in range(count)]
    data = {"verb": "approve", "plan": "p", "hash": "h"}
    return [driver.invoke(people[i % len(people)], c, c.id, f"card-{i}", "approve", data) for i, c in enumerate(chats)]
