"""The outbox's pace: never over Teams' documented limits as the sandbox enforces them
(https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit), and no slower than they require."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bot.adapters.delivery import ThreadRateLimit
from bot.adapters.instances import LiveInstances
from sandbox.connector.limits import TeamsLimits


class Time:
    """A clock the limiter's waits move (no real sleeping)."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def limiter(t: Time, per_second: int = 0) -> ThreadRateLimit:
    return ThreadRateLimit(clock=t, per_second=per_second, sleep=t.sleep)


async def test_one_thread_gets_7_sends_at_once_then_one_more_a_second_later() -> None:
    t = Time()
    pace, times = limiter(t), []
    for _ in range(9):
        await pace.acquire("19:chat@thread.v2")
        times.append(t.now - 5000)
    assert times == [0.0] * 7 + [1.0, 2.0]  # 7 per second, 8 per 2 seconds


async def test_the_paced_sends_of_a_thread_are_never_refused_by_teams_limits() -> None:
    """200 sends to one thread, then 1,900 to another (past the hour's 1,800), each checked by the sandbox's model."""
    t, teams = Time(), TeamsLimits()
    pace = limiter(t, per_second=40)
    for thread, count in (("19:a@thread.v2", 200), ("19:b@thread.v2", 1900)):
        for _ in range(count):
            await pace.acquire(thread)
            assert teams.admit("bot", "send", thread, t.now) == 0
    assert t.now - 5000 > 3600  # the 1,801st send of thread b waited for the hour window


async def test_a_channel_s_reply_chains_are_paced_as_one_thread_and_creating_threads_apart() -> None:
    t = Time()
    pace = limiter(t)
    for i in range(7):
        await pace.acquire(f"19:ops@thread.tacv2;messageid={i}")
    for _ in range(7):
        await pace.acquire("19:ops@thread.tacv2", create=True)  # counted apart, as Teams counts them
    assert t.now == 5000
    await pace.acquire("19:ops@thread.tacv2;messageid=99")
    assert t.now == 5001


async def test_the_app_s_pace_holds_all_threads_together_under_the_setting() -> None:
    t, teams = Time(), TeamsLimits()
    pace, times = limiter(t, per_second=40), []
    for i in range(100):  # one send each to 100 threads: only the app's pace can hold them back
        await pace.acquire(f"19:chat-{i}@thread.v2")
        times.append(t.now)
        assert teams.admit("bot", "send", f"19:chat-{i}@thread.v2", t.now) == 0
    assert max(sum(1 for u in times if s <= u < s + 1) for s in times) == 40
    assert times[-1] - times[0] == 2.0  # 40, 40, then 20: no slower than the pace


async def test_concurrent_senders_share_the_windows() -> None:
    """16 senders at once on one thread: whenever each is let through, the sends together fit Teams' windows."""
    t, teams, times = Time(), TeamsLimits(), []
    pace = limiter(t)

    async def send() -> None:
        await pace.acquire("19:chat@thread.v2")
        times.append(t.now)

    await asyncio.gather(*(send() for _ in range(16)))
    assert all(teams.admit("bot", "send", "19:chat@thread.v2", at) == 0 for at in sorted(times))


class Alive:
    """The instances the store knows alive (adapters/instances.py reads them)."""

    def __init__(self, *owners: str) -> None:
        self.owners = list(owners)

    async def instance_alive(self, owner: str, until: float, now: float) -> list[str]:
        return list(self.owners)

    async def instance_gone(self, owner: str) -> None:
        self.owners.remove(owner)


async def test_the_instances_alive_split_every_limit_so_the_shares_add_up_to_it() -> None:
    store = Alive("a", "b", "c")
    instances = [LiveInstances(store, owner, 30) for owner in ("a", "b", "c")]
    for i in instances:
        await i.beat()
    assert [i.count for i in instances] == [3, 3, 3]
    for total in (7, 8, 60, 1800, 40):
        assert sum(i.share(total) for i in instances) == total
    assert [i.share(7) for i in instances] == [3, 2, 2]
    await instances[2].stop()  # gone: the others take its share at their next beat
    await instances[0].beat()
    assert instances[0].count == 2 and instances[0].share(60) == 30


async def test_three_instances_each_at_its_share_open_300_threads_in_one_channel_within_teams_limits_and_no_slower() -> None:
    """Each instance paces itself alone, at its share (no call between them): together they never exceed Teams'
    limits for the app, as the sandbox counts them, and 300 threads take about the 134 s those limits allow."""
    store = Alive("a", "b", "c")
    opened: list[float] = []
    for owner in ("a", "b", "c"):
        instance = LiveInstances(store, owner, 30)
        await instance.beat()
        t = Time()
        pace = ThreadRateLimit(clock=t, per_second=40, sleep=t.sleep, share=instance.share, margin=instance.margin)
        for _ in range(100):
            await pace.acquire("19:ops@thread.tacv2", create=True)
            opened.append(t.now)
    teams = TeamsLimits()
    assert all(teams.admit("bot", "create_conversation", "19:ops@thread.tacv2", at) == 0 for at in sorted(opened))
    assert 120 < max(opened) - 5000 < 150  # Teams' ~134 s, the shares' rounding and the margin for arrival times


async def test_a_send_teams_refused_with_429_holds_its_thread_for_retry_after() -> None:
    """After a 429 this instance sends nothing more to that thread before Retry-After; other threads go on."""
    t = Time()
    pace, sent = limiter(t), []

    async def refused() -> None:
        request = aiohttp.RequestInfo(URL("https://smba.example/"), "POST", CIMultiDictProxy(CIMultiDict()))
        raise aiohttp.ClientResponseError(request, (), status=429, headers=CIMultiDictProxy(CIMultiDict({"Retry-After": "3"})))

    async def send() -> None:
        sent.append(t.now - 5000)

    with pytest.raises(aiohttp.ClientResponseError):
        await pace.paced("19:chat@thread.v2", refused)
    await pace.paced("19:other@thread.v2", send)  # another thread: not held
    for _ in range(7):
        await pace.paced("19:chat@thread.v2", send)
    assert sent == [0.0] + [3.0] * 7  # the refused send's slot left the windows meanwhile


async def test_member_reads_are_paced_at_teams_read_limits_and_leave_the_thread_s_sends_alone() -> None:
    """Teams counts getting members apart from sends (14 a second, 16 per 2 seconds per bot per thread): a storm of
    new people in one channel is read at that pace, and the channel's cards still go out at once."""
    t, teams = Time(), TeamsLimits()
    pace, times = limiter(t), []
    for i in range(20):
        await pace.acquire(f"19:ops@thread.tacv2;messageid={i}", read=True)
        assert teams.admit("bot", "member", "19:ops@thread.tacv2", t.now) == 0
        times.append(t.now - 5000)
    assert times[:14] == [0.0] * 14 and times[14:16] == [1.0, 1.0] and times[16] == 2.0
    sent_at = t.now
    await pace.acquire("19:ops@thread.tacv2")
    assert t.now == sent_at  # the reads took no send's place


async def test_member_reads_and_sends_share_the_app_s_pace() -> None:
    """Teams' 50 requests a second per app per tenant counts reads and sends alike: together they keep the pace."""
    t = Time()
    pace = limiter(t, per_second=10)
    for i in range(6):
        await pace.acquire(f"19:chat-{i}@thread.v2", read=True)
    for i in range(4):
        await pace.acquire(f"19:other-{i}@thread.v2")
    assert t.now == 5000.0
    await pace.acquire("19:last@thread.v2")
    assert t.now - 5000 == pytest.approx(1.0)  # the eleventh call of the second waits for the next one
