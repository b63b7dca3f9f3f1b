"""How sends to Teams are paced, and how their failures are judged (tried again later, or given up).

Teams' limits (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit): per bot per thread, 7
sends a second, 8 per 2 seconds, 60 per 30 seconds and 1,800 per hour (creating conversations is counted apart, with
the same figures); per app per tenant, 50 requests a second. 429, 412, 408, 5xx and network errors are worth trying
again, never sooner than `Retry-After`; 400/403/404 and an untrusted service URL are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from bisect import bisect_right, insort
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..domain.service_urls import UntrustedServiceUrl

RETRYABLE = {408, 412, 429}  # and every 5xx
# per bot per thread, send and create conversation alike (the page's table); a thread is a 1:1 chat, a group chat or
# a channel, so every reply chain of a channel counts for the channel
WINDOWS = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
# per bot per thread, getting conversation members (one member, a roster page): the page's table again
MEMBER_READS = ((1.0, 14), (2.0, 16), (30.0, 120), (3600.0, 3600))
T = TypeVar("T")
APP = "\x00app"  # the key of the per-app pace (no conversation id starts with a NUL)


def whole(limit: int) -> int:
    """The whole of a limit: one instance alone."""
    return limit


def exact(window: float) -> float:
    """A window as Teams counts it: one instance alone."""
    return window


class Undeliverable(Exception):
    """The message can never be sent (its thread was never created, its plan is gone)."""


class ThreadNotOpen(Exception):
    """The message's thread is still being opened (its opening message waits, or is not visible yet): tried again later."""


class TryAgain(Exception):
    """The receiver did not take the message (an agent's callback answered other than 2xx): worth trying again,
    never sooner than `retry_after` seconds."""

    def __init__(self, cause: str, retry_after: float = 0.0) -> None:
        super().__init__(cause)
        self.cause, self.retry_after = cause, retry_after


class CardNotPosted(Exception):
    """A note links to a card that is not posted yet: tried again later (the card is ordered before it)."""


class SlidingWindows:
    """The times of recent sends per key, and how long until one more fits in every window of that key."""

    def __init__(
        self, windows: tuple[tuple[float, int], ...], share: Callable[[int], int] = whole, margin: Callable[[float], float] = exact
    ) -> None:
        self._windows, self._share, self._margin = windows, share, margin
        self._longest = max(w for w, _ in windows)
        self._sent: dict[str, list[float]] = {}
        self._sweep_at = 1000

    def wait(self, key: str, now: float) -> float:
        """Seconds until one more send under `key` fits (0: it fits now)."""
        sent = self._sent.get(key)
        if not sent:
            return 0.0
        margin = self._margin  # for the spread of arrival times between instances (see ThreadRateLimit)
        del sent[: bisect_right(sent, now - margin(self._longest))]
        wait = 0.0
        for length, total in self._windows:
            window, limit = margin(length), self._share(total)  # this instance's part of the limit all instances share
            if len(sent) - bisect_right(sent, now - window) >= limit:  # a slot frees when the limit-th last send leaves
                wait = max(wait, sent[-limit] + window - now)
        return wait

    def take(self, key: str, now: float) -> None:
        insort(self._sent.setdefault(key, []), now)
        if len(self._sent) > self._sweep_at:  # bounded: keys silent for a whole window hold nothing
            for k in [k for k, v in self._sent.items() if not v or now - v[-1] >= self._longest]:
                del self._sent[k]
            self._sweep_at = max(1000, 2 * len(self._sent))  # amortised: not a sweep per send when all are busy


class ThreadRateLimit:
    """Teams' limits as the bot paces itself: sliding windows per thread (`WINDOWS` for sends, `MEMBER_READS` for the
    member reads of turns and rosters) and, when `per_second` is set, a pace for the whole app (Teams allows 50
    requests a second per app per tenant, reads and sends alike). `acquire` waits until one more call fits in every
    window of its thread and in the app's pace, then counts it in both. Every limit is shared by all the
    bot's instances: `share` gives this instance's part of one (adapters/instances.py; the whole of it by default),
    and `margin` lengthens every window a little when there are several: each instance counts its sends when they
    leave, Teams when they arrive, and the shares add up to the whole limit, so without a margin for the spread of
    arrival times Teams sees a window overfull now and then (measured: about 5% of a 300-thread burst refused, each
    refused send costing its instance a slot of the 30-second window, so the last threads waited a window more)."""

    def __init__(
        self,
        windows: tuple[tuple[float, int], ...] = WINDOWS,
        clock: Callable[[], float] = time.monotonic,
        per_second: int = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        share: Callable[[int], int] = whole,
        margin: Callable[[float], float] = exact,
    ) -> None:
        self._threads, self._clock, self._sleep = SlidingWindows(windows, share, margin), clock, sleep
        self._reads = SlidingWindows(MEMBER_READS, share, margin)
        self._app = SlidingWindows(((1.0, per_second),), share, margin) if per_second > 0 else None
        self._held: dict[str, float] = {}  # thread -> no send before then (Teams answered 429 with Retry-After)

    async def acquire(self, conversation: str, *, create: bool = False, read: bool = False) -> tuple[str, float]:
        """One send to `conversation` (or, with `create`, one conversation created in it; with `read`, one member read
        in it: each counted apart, as Teams does). Returns the slot taken (see `refused`)."""
        thread = ("create " if create else "read " if read else "") + conversation.split(";messageid=")[0]
        windows = self._reads if read else self._threads
        while True:
            now = self._clock()
            wait = max(windows.wait(thread, now), self._held.get(thread, 0.0) - now)
            if self._app is not None:
                wait = max(wait, self._app.wait(APP, now))
            if wait <= 0:  # no await between the check and the count: concurrent senders cannot both take the slot
                windows.take(thread, now)
                if self._app is not None:
                    self._app.take(APP, now)
                return thread, now
            await self._sleep(wait)

    def refused(self, slot: tuple[str, float], retry_after: float) -> None:
        """Teams answered the send of `slot` 429: this instance sends nothing more to that thread before Retry-After
        (at least a second). The refused send keeps its slot: the page does not say whether Teams counts it, and
        with instances at their shares a 429 means the thread is full (given back, the slot went to this instance's
        next send, refused again: measured, 429s multiplied fivefold)."""
        thread, _ = slot
        now = self._clock()
        if len(self._held) > 1000:
            self._held = {t: until for t, until in self._held.items() if until > now}
        self._held[thread] = max(self._held.get(thread, 0.0), now + max(1.0, retry_after))

    async def paced(self, conversation: str, call: Callable[[], Awaitable[T]], *, create: bool = False) -> T:
        """`call`, one call to Teams about `conversation`, once it fits the pace (a 429 is `refused`)."""
        slot = await self.acquire(conversation, create=create)
        return await self.refusing(slot, call)

    async def read(self, conversation: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call`, one member read in `conversation` (a turn's person check, a roster page), once it fits the pace."""
        return await self.refusing(await self.acquire(conversation, read=True), call)

    async def refusing(self, slot: tuple[str, float], call: Callable[[], Awaitable[T]]) -> T:
        """`call` in the slot taken; a 429 holds the slot's thread (`refused`)."""
        try:
            return await call()
        except Exception as e:
            refused = http_refusal(e)
            if refused is not None and refused[0] == 429:
                self.refused(slot, retry_after(refused[1]))
            raise


def http_refusal(error: BaseException) -> tuple[int | None, Any] | None:
    """(HTTP status, headers) of a Connector call Teams answered with an error, from either SDK adapter's exception:
    botbuilder's msrest ErrorResponseException (`.response.status_code`) or the Agents SDK's aiohttp
    ClientResponseError (`.status`); None for anything else (network errors, timeouts). Duck-typed: the outbox
    imports no Teams SDK."""
    response = getattr(error, "response", None)
    if response is not None and hasattr(response, "status_code"):
        return response.status_code, response.headers
    if type(error).__name__ == "ErrorResponseException":  # msrest's, without a response
        return None, None
    status = getattr(error, "status", None)
    if isinstance(status, int) and hasattr(error, "request_info"):
        return status, getattr(error, "headers", None)
    return None


def retry_after(headers: Any) -> float:
    """The `Retry-After` of an answer, in seconds (0 when absent or not a number of seconds)."""
    header = headers.get("Retry-After") if headers is not None else None
    if header:
        with contextlib.suppress(ValueError):
            return max(0.0, float(header))
    return 0.0


def classify(error: BaseException) -> tuple[bool, float, str]:
    """(worth trying again, Retry-After in seconds or 0, a short cause for logs, metrics and the dead letter)."""
    if isinstance(error, Undeliverable):
        return False, 0.0, f"undeliverable: {error}"
    if isinstance(error, TryAgain):
        return True, error.retry_after, error.cause
    if isinstance(error, UntrustedServiceUrl):  # nothing was sent, and never will be: the bot keeps its token
        return False, 0.0, "untrusted service URL"
    refused = http_refusal(error)
    if refused is not None:
        status, headers = refused
        retryable = status is None or status in RETRYABLE or status >= 500
        return retryable, retry_after(headers), f"HTTP {status}"
    return True, 0.0, type(error).__name__  # connection refused, reset, timeout: Teams may answer later
