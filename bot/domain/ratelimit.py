"""Token buckets per key (a person, a conversation, a caller app), on an injected clock.

Each key may spend `per_minute` requests in a burst and earns them back evenly over a minute (or over `period`
seconds: `RateLimiter(5, clock, period=600)` allows 5 in a burst and one more every two minutes). Keys are
kept in least-recently-used order and at most `max_keys` of them, so a flood of distinct keys cannot
grow memory: a forgotten key starts again with a full bucket, which only ever errs towards letting a
quiet caller through.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]  # seconds, monotonic enough: tests move it by hand


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, per_minute: int, clock: Clock, max_keys: int = 10_000, period: float = 60.0) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / period  # tokens per second
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend one token for `key`: 0.0 if allowed, else the seconds until one is available (nothing spent)."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
            bucket.at = now
            self._buckets.move_to_end(key)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def take_all(limiters: list[tuple[RateLimiter, str]]) -> float:
    """Take from each (limiter, key); the longest wait if any refused (tokens already taken stay spent)."""
    return max((limiter.take(key) for limiter, key in limiters), default=0.0)
