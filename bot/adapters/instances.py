"""The bot's instances alive, so that each takes its share of the budgets they all share: Teams' rate limits.

Teams counts a bot's calls per app (50 requests a second per tenant) and per thread (7 a second, 8 per 2 seconds,
60 per 30 seconds, 1,800 an hour), whichever instance makes them
(https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit). Each instance paces its outbox by its
share of each limit: the limit divided by the number of instances alive, the remainder going to the first instances
by id, so the shares of all add up to the limit (at least one each), counted over windows slightly longer than
Teams' (`margin`: instances count a send when it leaves, Teams when it arrives).

Who is alive is kept in the store every instance shares: each instance records itself there, alive until a lease from
now (EXECUTION_LEASE_SECONDS, as its execution leases), renews that every third of the lease and counts the records
still alive; a graceful stop removes its record at once, a killed instance's lapses after one lease. One write and one
read per beat: nothing on the path of a send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from .delivery import ThreadRateLimit

log = logging.getLogger(__name__)
# when shared, windows longer by 3% or half a second, whichever is more: 0.9 s on the 30-second window, 0.5 s on the
# 1- and 2-second ones (measured on a busy machine: without it ~5% of a 300-thread burst was refused, 2% with 3% alone)
ARRIVAL_MARGIN, ARRIVAL_SPREAD = 0.03, 0.5
# alone, windows longer by half a second: a call is counted when it leaves and Teams counts it when it arrives, later
# on a busy machine (measured: 14 member reads counted in one second arrived over 1.15 s, and the fifteenth, sent as
# the bot's window ended, was refused; with a quarter second, a reply on a machine running two test suites)
ALONE_SPREAD = 0.5


class InstanceRows(Protocol):
    async def instance_alive(self, owner: str, until: float, now: float) -> list[str]: ...
    async def instance_gone(self, owner: str) -> None: ...


class LiveInstances:
    """This instance's record in the store, renewed on a beat, and the instances alive as last counted."""

    def __init__(self, store: InstanceRows, owner: str, seconds: float, per_second: int = 40) -> None:
        self.owner, self._store, self._seconds = owner, store, seconds
        self._alive: tuple[str, ...] = (owner,)
        self._task: asyncio.Task[None] | None = None
        # Teams' limits at this instance's share, for every call it makes: the outbox's sends, the turns' and the
        # rosters' member reads (`per_second`: TEAMS_SENDS_PER_SECOND, the app's pace of all instances together)
        self.pace = ThreadRateLimit(per_second=per_second, share=self.share, margin=self.margin)

    @property
    def count(self) -> int:
        return len(self._alive)

    def share(self, total: int) -> int:
        """This instance's part of `total` (at least 1); the parts of all instances alive add up to `total`."""
        n, rank = len(self._alive), self._alive.index(self.owner)
        return max(1, total // n + (1 if rank < total % n else 0))

    def margin(self, window: float) -> float:
        """The window (seconds) this instance counts its calls in for one of Teams' windows: a little longer than
        Teams' for the time a call takes to arrive, and longer still when shared, for the spread of arrival times
        between instances whose shares add up to the whole limit."""
        return window + ALONE_SPREAD if len(self._alive) == 1 else window + max(ARRIVAL_MARGIN * window, ARRIVAL_SPREAD)

    async def beat(self) -> None:
        """Record this instance alive for one more lease and count the instances alive."""
        now = time.time()
        alive = await self._store.instance_alive(self.owner, now + self._seconds, now)
        counted = tuple(sorted({*alive, self.owner}))
        if counted != self._alive:
            log.info("%d instance(s) alive: each paces its calls to Teams at 1/%d of Teams' limits", len(counted), len(counted))
        self._alive = counted

    async def start(self) -> None:
        """Counted once now (so the first sends already take the right share), then on a beat."""
        with contextlib.suppress(Exception):  # the store unreachable: counted at the next beat
            await self.beat()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="instances heartbeat")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._seconds / 3)
            try:
                await self.beat()
            except Exception:  # keep the last count; the record lapses if this lasts
                log.warning("could not record this instance alive in the store; retrying")

    async def stop(self) -> None:
        """Stop beating and remove this instance's record: the others take its share at their next beat."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._store.instance_gone(self.owner)
