"""How sends to Teams are paced, and how their failures are judged (tried again later, or given up).

Teams' per-thread limits: 7 sends a second and 60 per 30 seconds per bot per thread
(https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit). 429, 412, 408, 5xx and network errors
are worth trying again, never sooner than `Retry-After`; 400/403/404 and an untrusted service URL are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..domain.service_urls import UntrustedServiceUrl

RETRYABLE = {408, 412, 429}  # and every 5xx
WINDOWS = ((1.0, 7), (30.0, 60))  # (seconds, sends) per bot per thread


class Undeliverable(Exception):
    """The message can never be sent (its thread was never created, its plan is gone)."""


class CardNotPosted(Exception):
    """A note links to a card that is not posted yet: tried again later (the card is ordered before it)."""


class ThreadRateLimit:
    """Sliding windows per conversation; `acquire` waits until one more send fits in every window."""

    def __init__(self, windows: tuple[tuple[float, int], ...] = WINDOWS, clock: Callable[[], float] = time.monotonic) -> None:
        self._windows, self._clock = windows, clock
        self._sent: dict[str, deque[float]] = {}
        self._longest = max(w for w, _ in windows)

    async def acquire(self, conversation: str) -> None:
        while True:
            now = self._clock()
            sent = self._sent.setdefault(conversation, deque())
            while sent and now - sent[0] >= self._longest:
                sent.popleft()
            wait = 0.0
            for window, limit in self._windows:
                recent = [t for t in sent if now - t < window]
                if len(recent) >= limit:
                    wait = max(wait, recent[-limit] + window - now)
            if wait <= 0:
                sent.append(now)
                self._forget_idle(now)
                return
            await asyncio.sleep(wait)

    def _forget_idle(self, now: float) -> None:
        if len(self._sent) > 1000:  # bounded: conversations silent for a whole window hold nothing
            for key in [k for k, v in self._sent.items() if not v or now - v[-1] >= self._longest]:
                del self._sent[key]


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


def classify(error: BaseException) -> tuple[bool, float, str]:
    """(worth trying again, Retry-After in seconds or 0, a short cause for logs, metrics and the dead letter)."""
    if isinstance(error, Undeliverable):
        return False, 0.0, f"undeliverable: {error}"
    if isinstance(error, UntrustedServiceUrl):  # nothing was sent, and never will be: the bot keeps its token
        return False, 0.0, "untrusted service URL"
    refused = http_refusal(error)
    if refused is not None:
        status, headers = refused
        retry_after = 0.0
        header = headers.get("Retry-After") if headers is not None else None
        if header:
            with contextlib.suppress(ValueError):
                retry_after = max(0.0, float(header))
        retryable = status is None or status in RETRYABLE or status >= 500
        return retryable, retry_after, f"HTTP {status}"
    return True, 0.0, type(error).__name__  # connection refused, reset, timeout: Teams may answer later
