"""Teams' documented rate limits for bots, as the Connector simulator enforces them by default.

Source: "Optimize your bot with rate limiting in Teams"
(https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit):

- Per bot per thread, where a thread is "1:1 between bot and user, a group chat, or a channel in a team" (so every
  reply chain of a channel counts for the channel): send to conversation and create conversation 7 per 1 s,
  8 per 2 s, 60 per 30 s, 1800 per 3600 s; get conversation members (and get conversations) 14 per 1 s, 16 per 2 s,
  120 per 30 s, 3600 per 3600 s.
- Per thread for all bots: send and create 14 per 1 s and 16 per 2 s; members 28 per 1 s and 32 per 2 s.
- Global, per app per tenant: 50 requests per second (the page's current value; older copies said 30).
- "All requests are subject to the same rate limiting policy": updates and deletes of an activity count as sends.
- Over a limit, the call is answered `429 Too Many Requests`; the page does not say whether a refused call uses a
  slot: here it does not (the bot's retry after `Retry-After` then finds the slot free).
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from dataclasses import dataclass, field

Windows = tuple[tuple[float, int], ...]  # (seconds, operations allowed in any such span)

# per bot per thread, by scenario
SEND: Windows = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
CREATE: Windows = SEND
MEMBERS: Windows = ((1.0, 14), (2.0, 16), (30.0, 120), (3600.0, 3600))
# per thread for all bots, by scenario
ALL_BOTS_SEND: Windows = ((1.0, 14), (2.0, 16))
ALL_BOTS_MEMBERS: Windows = ((1.0, 28), (2.0, 32))
# per app per tenant
GLOBAL: Windows = ((1.0, 50),)

_SCENARIO = {
    "send": "send",
    "reply": "send",
    "update": "send",
    "delete": "send",
    "create_conversation": "create",
    "members": "members",
    "paged_members": "members",
    "member": "members",
}
_PER_BOT: dict[str, Windows] = {"send": SEND, "create": CREATE, "members": MEMBERS}
_ALL_BOTS: dict[str, Windows] = {"send": ALL_BOTS_SEND, "create": ALL_BOTS_SEND, "members": ALL_BOTS_MEMBERS}


def thread_of(conversation_id: str) -> str:
    """The thread Teams counts a call against: a channel's reply chains (`;messageid=`) are the channel."""
    return conversation_id.split(";messageid=")[0]


@dataclass
class _Log:
    """Times of the calls let through under one key, oldest first."""

    windows: Windows
    times: list[float] = field(default_factory=list)

    def wait(self, now: float) -> float:
        """Seconds until one more call fits in every window (0: it fits now)."""
        longest = max(w for w, _ in self.windows)
        del self.times[: bisect_right(self.times, now - longest)]
        wait = 0.0
        for window, limit in self.windows:
            recent = len(self.times) - bisect_right(self.times, now - window)
            if recent >= limit:  # the slot frees when the limit-th most recent call leaves the window
                wait = max(wait, self.times[-limit] + window - now)
        return wait


@dataclass
class TeamsLimits:
    """Sliding windows per (app, thread, scenario), per (thread, scenario) and per app, on the simulator's clock."""

    logs: dict[tuple[str, ...], _Log] = field(default_factory=dict)
    # The per-app limit is per app *per tenant*; the sandbox's Teams serves one tenant, so a load that stands for many
    # tenants' conversations (the benchmark's turn rates, tests/bench) turns it off. The per-thread limits stay.
    per_app: bool = True

    def admit(self, app: str, operation: str, thread: str, now: float) -> int:
        """0 when the call fits every limit (and is counted), else the `Retry-After` in whole seconds (at least 1)."""
        wait = self.wait(app, operation, thread, now)
        if wait > 0:
            return max(1, math.ceil(wait))
        for log in self._logs(app, operation, thread):
            insort(log.times, now)
        return 0

    def wait(self, app: str, operation: str, thread: str, now: float) -> float:
        """Seconds until the call fits every limit (0: it fits now); nothing is counted."""
        return max(log.wait(now) for log in self._logs(app, operation, thread))

    def _logs(self, app: str, operation: str, thread: str) -> list[_Log]:
        scenario = _SCENARIO.get(operation, "send")
        keys = [
            (("bot", app, thread, scenario), _PER_BOT[scenario]),
            (("all bots", thread, scenario), _ALL_BOTS[scenario]),
        ]
        if self.per_app:  # the sandbox's Teams serves one tenant (the world's home tenant): per app per tenant is per app
            keys.append((("app", app), GLOBAL))
        return [self.logs.setdefault(key, _Log(windows)) for key, windows in keys]

    def forget(self) -> None:
        """Every window emptied, as if a quiet hour had passed."""
        self.logs.clear()
