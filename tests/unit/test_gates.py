"""Trusted Bot Connector hosts and token buckets, as pure functions."""

from __future__ import annotations

import pytest

from bot.domain.ratelimit import RateLimiter, take_all
from bot.domain.service_urls import PUBLIC_CLOUD_PREFIXES, ServiceUrlPolicy


@pytest.fixture
def policy() -> ServiceUrlPolicy:
    return ServiceUrlPolicy.of([*PUBLIC_CLOUD_PREFIXES, "https://localhost:8443"])


@pytest.mark.parametrize(
    "url",
    [
        "https://smba.trafficmanager.net/teams/",
        "https://smba.trafficmanager.net/amer/",
        "https://SMBA.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net:443/apac/",
        "https://localhost:8443",
        "https://localhost:8443/",
    ],
)
def test_trusted_urls(policy: ServiceUrlPolicy, url: str) -> None:
    assert policy.allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://smba.trafficmanager.net/teams/",  # never plain http
        "https://smba.trafficmanager.net.evil.example/teams/",
        "https://evil.example/smba.trafficmanager.net/",
        "https://user:pw@smba.trafficmanager.net/teams/",
        "https://smba.trafficmanager.net/teams/?x=1",
        "https://localhost:8444/",
        "https://localhost/",  # same host, another port
        "https://smba.trafficmanager.net/teams/../../x",
        "",
        None,
        42,
        "smba.trafficmanager.net/teams/",
    ],
)
def test_untrusted_urls(policy: ServiceUrlPolicy, url: object) -> None:
    assert not policy.allows(url)


def test_a_path_prefix_binds_the_path() -> None:
    narrow = ServiceUrlPolicy.of(["https://connector.example/teams"])
    assert narrow.allows("https://connector.example/teams/v3") and not narrow.allows("https://connector.example/teamsx/")


@pytest.mark.parametrize("bad", ["http://smba.trafficmanager.net/", "https://", "ftp://x/"])
def test_prefixes_must_be_https(bad: str) -> None:
    with pytest.raises(ValueError):
        ServiceUrlPolicy.of([bad])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_evenly() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [limiter.take("carol") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("carol") == pytest.approx(20.0)  # one token every 20 s at 3 a minute
    assert limiter.take("alice") == 0.0  # keys are independent
    clock.now += 20
    assert limiter.take("carol") == 0.0
    assert limiter.take("carol") > 0


def test_keys_are_bounded() -> None:
    limiter = RateLimiter(1, Clock(), max_keys=100)
    for i in range(1000):
        limiter.take(f"k{i}")
    assert len(limiter) == 100


def test_take_all_reports_the_longest_wait() -> None:
    clock = Clock()
    person, conversation = RateLimiter(60, clock), RateLimiter(1, clock)
    assert take_all([(person, "a"), (conversation, "c")]) == 0.0
    assert take_all([(person, "a"), (conversation, "c")]) == pytest.approx(60.0)
