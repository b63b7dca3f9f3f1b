"""Execution leases: which instance is running a plan, for how long more, renewed by a heartbeat.

A plan in APPROVED or an executing state is being looked after by one instance: the one whose unit of work moved it
there. The store records that in the same transaction (owner = the instance id, `until` = now + the lease), and the
instance's LeaseKeeper renews it every third of the lease while the plan stays there. Recovery, on any instance,
only takes plans whose lease has lapsed (`until` in the past): their instance died (kill -9, a crash, a host lost)
without handing them back. A graceful stop drains its executions first, so its leases end with its plans.

Renewal is conditional on the owner: an instance that lost a lease (recovered by another after a long pause)
stops renewing it, and its execution stops before the next action because the plan is no longer executing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable

from ...domain.plan import EXECUTING_STATES, PlanState

log = logging.getLogger(__name__)
ACTIVE_STATES = frozenset({PlanState.APPROVED, *EXECUTING_STATES})  # the states a lease covers
DEFAULT_LEASE_SECONDS = 30.0


def instance_id(configured: str = "") -> str:
    """The configured name (INSTANCE_ID, else App Service's WEBSITE_INSTANCE_ID: see bot/config/store.py), else the host
    name; a random suffix keeps two processes on one host (a restart overlapping its predecessor) apart."""
    base = configured or socket.gethostname()
    return f"{base}-{secrets.token_hex(4)}"


class LeaseKeeper:
    """Renews this instance's leases on a heartbeat (every third of the lease) while it holds any."""

    def __init__(self, owner: str, seconds: float, renew: Callable[[str, str, float], Awaitable[bool]]) -> None:
        self.owner, self.seconds = owner, seconds
        self._renew = renew
        self._held: set[str] = set()
        # how many times this instance committed each plan into an active state: a renewal refused because the plan
        # was written meanwhile (approved -> executing rewrites the lease) must not drop a lease that commit renewed
        self._saves: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    def until(self) -> float:
        return time.time() + self.seconds

    def saved(self, plan_id: str, state: PlanState) -> None:
        """A unit of work of this instance committed `plan_id` in `state`: hold its lease, or let it go."""
        if state in ACTIVE_STATES:
            self._held.add(plan_id)
            self._saves[plan_id] = self._saves.get(plan_id, 0) + 1
            if self._task is None or self._task.done():
                with contextlib.suppress(RuntimeError):  # no running loop: renewed from the next call that has one
                    self._task = asyncio.get_running_loop().create_task(self._beat(), name="lease heartbeat")
        else:
            self._held.discard(plan_id)
            self._saves.pop(plan_id, None)

    async def _beat(self) -> None:
        while self._held:
            await asyncio.sleep(self.seconds / 3)
            for plan_id in list(self._held):
                saves = self._saves.get(plan_id, 0)
                try:
                    if not await self._renew(plan_id, self.owner, self.until()) and self._saves.get(plan_id, 0) == saves:
                        self._held.discard(plan_id)  # ended, or taken over by another instance: not ours any more
                        self._saves.pop(plan_id, None)
                        log.info("lease on plan %s is no longer ours", plan_id, extra={"plan_id": plan_id})
                except Exception:  # the store is unreachable: keep trying, the lease lapses if this lasts
                    log.warning("could not renew the lease on plan %s; retrying", plan_id, extra={"plan_id": plan_id})

    def close(self) -> None:
        """Stop renewing (the store is closing). Leases still held lapse after at most one lease."""
        if self._task is not None:
            self._task.cancel()
        self._held.clear()
        self._saves.clear()
