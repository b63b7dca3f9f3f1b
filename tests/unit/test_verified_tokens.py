"""Channel tokens already verified are remembered only for the activity they were checked against, and only until the
token's expiry or five minutes (bot/adapters/conversation/verified.py)."""

from __future__ import annotations

from bot.adapters.conversation.verified import MAX_AGE, VerifiedTokens


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_kept_for_the_same_header_service_url_and_channel_only() -> None:
    tokens: VerifiedTokens[str] = VerifiedTokens(Clock())
    key = VerifiedTokens.key("Bearer t", "https://smba.example/teams/", "msteams")
    tokens.put(key, "identity", expires=2_000_000)
    assert tokens.get(key) == "identity"
    assert tokens.get(VerifiedTokens.key("Bearer t", "https://elsewhere.example/", "msteams")) is None
    assert tokens.get(VerifiedTokens.key("Bearer t", "https://smba.example/teams/", "webchat")) is None
    assert tokens.get(VerifiedTokens.key("Bearer u", "https://smba.example/teams/", "msteams")) is None


def test_an_answer_ends_with_the_token_or_after_five_minutes_whichever_is_first() -> None:
    clock = Clock()
    tokens: VerifiedTokens[str] = VerifiedTokens(clock)
    soon, later = VerifiedTokens.key("Bearer soon", "s", "c"), VerifiedTokens.key("Bearer later", "s", "c")
    tokens.put(soon, "a", expires=clock.now + 60)
    tokens.put(later, "b", expires=clock.now + 3600)
    clock.now += 60
    assert tokens.get(soon) is None and tokens.get(later) == "b"
    clock.now += MAX_AGE
    assert tokens.get(later) is None


def test_a_token_without_an_expiry_is_never_kept_and_the_entries_are_bounded() -> None:
    clock = Clock()
    tokens: VerifiedTokens[int] = VerifiedTokens(clock, size=3)
    tokens.put(VerifiedTokens.key("Bearer x", "s", "c"), 0, expires=None)
    assert tokens.get(VerifiedTokens.key("Bearer x", "s", "c")) is None
    keys = [VerifiedTokens.key(f"Bearer {i}", "s", "c") for i in range(5)]
    for i, key in enumerate(keys):
        tokens.put(key, i, expires=clock.now + 600)
    assert [tokens.get(k) for k in keys] == [None, None, 2, 3, 4]
