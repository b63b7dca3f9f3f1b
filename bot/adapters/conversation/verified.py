"""Channel tokens already verified, remembered for a short while: the Teams service signs every activity of a
conversation's service URL with the same token until it nears expiry, and checking it again (an RSA signature and
PyJWT's decoding, several times per activity) was a fifth of a `help` turn (docs/benchmarks.md, profile).

An entry is keyed by a digest of the Authorization header *and* the activity's service URL and channel id, the two
things the checks compare with the activity (the token's `serviceurl` claim, the signing key's endorsements), so a
remembered answer is exactly the answer the checks would give again; it lasts until the token's `exp` or `MAX_AGE`,
whichever comes first (a key the channel withdraws stops being trusted within that). Only successes are kept, in
memory, by digest: never the token itself.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_AGE = 300.0  # seconds
MAX_ENTRIES = 1024


class VerifiedTokens(Generic[T]):
    """What an authentication answered for (header, service URL, channel id), until the token's expiry."""

    def __init__(self, clock: Callable[[], float] = time.time, max_age: float = MAX_AGE, size: int = MAX_ENTRIES) -> None:
        self._clock, self._max_age, self._size = clock, max_age, size
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    @staticmethod
    def key(auth_header: str, service_url: object, channel_id: object) -> str:
        return hashlib.sha256(f"{auth_header}\n{service_url}\n{channel_id}".encode()).hexdigest()

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, value: T, expires: object) -> None:
        """Remember `value` until `expires` (the token's `exp`, seconds since the epoch) or MAX_AGE from now."""
        if not isinstance(expires, int | float):
            return  # no expiry, nothing to bound the entry by: never remembered
        until = min(float(expires), self._clock() + self._max_age)
        self._entries[key] = (until, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
