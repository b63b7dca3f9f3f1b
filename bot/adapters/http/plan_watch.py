"""Waiting for a plan to change, whichever instance changes it: what long-polls and `wait_for_plan` wait on.

Every stored change of a plan raises its version (a compare-and-set), so a change is a new version. Instances share
nothing but the store, so each instance reads the plans someone waits on from the store, once per plan however many
wait on it, every POLL_SECONDS; a commit made by this instance wakes that read at once. A change committed anywhere
is therefore seen within POLL_SECONDS plus one read of the store, which keeps a held request within a second of the
commit on Table Storage too. Nothing is read for plans nobody waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...domain.audit import AuditEvent
from ...domain.plan import Plan
from ...ports import PlanStore

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5  # between two reads of a watched plan: a change made on another instance is seen within this


@dataclass
class _Watched:
    """One plan someone waits on: its newest version read, and the event set (then replaced) when it changes."""

    plan: Plan | None = None
    read: bool = False  # read at least once
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # read again now (this instance committed it)
    waiters: int = 0
    task: asyncio.Task[None] | None = None


class PlanWatch:
    """`changed(plan_id, version, timeout)`: the plan once its version is no longer `version`, or None at the timeout."""

    def __init__(self, store: PlanStore, interval: float = POLL_SECONDS) -> None:
        self._store, self._interval = store, interval
        self._watched: dict[str, _Watched] = {}
        self._closing = False  # the app is shutting down: held requests are answered now, new ones wait no more

    @property
    def watching(self) -> int:
        """How many plans someone waits on now."""
        return len(self._watched)

    def committed(self, events: Iterable[AuditEvent], messages: int) -> None:
        """Store listener: a unit of work of this instance committed; re-read the watched plans it moved now."""
        for e in events:
            w = self._watched.get(e.plan_id or "")
            if w is not None:
                w.wake.set()

    async def changed(self, plan_id: str, version: int, timeout: float) -> Plan | None:
        """The plan as soon as a version other than `version` is stored (None if it is gone meanwhile, or when
        `timeout` seconds pass without a change, or the app shuts down)."""
        if self._closing:
            return None
        w = self._watched.get(plan_id)
        if w is None:
            w = self._watched[plan_id] = _Watched()
            w.task = asyncio.get_running_loop().create_task(self._follow(plan_id, w), name=f"watch {plan_id}")
        w.waiters += 1
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while not self._closing:
                if w.read and (w.plan is None or w.plan.version != version):
                    return w.plan
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(w.changed.wait(), remaining)
            return None
        finally:
            w.waiters -= 1
            if w.waiters == 0 and self._watched.get(plan_id) is w:
                del self._watched[plan_id]
                if w.task is not None:
                    w.task.cancel()

    async def _follow(self, plan_id: str, w: _Watched) -> None:
        """Read the plan while someone waits on it; announce each new version."""
        while True:
            w.wake.clear()
            try:
                plan = await self._store.get(plan_id)
            except Exception:  # the store is briefly unreachable: the waiters keep waiting, the next read may do
                log.warning("plan watch: could not read plan %s; reading again", plan_id, extra={"plan_id": plan_id})
            else:
                if not w.read or (plan is None) != (w.plan is None) or (plan and w.plan and plan.version != w.plan.version):
                    w.plan, w.read = plan, True
                    w.changed.set()
                    w.changed = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(w.wake.wait(), self._interval)

    async def close(self, app: object = None) -> None:
        """Answer every held request now (a shutdown must not wait for long-polls to time out) and stop reading; an
        aiohttp on_shutdown handler too."""
        self._closing = True
        for w in self._watched.values():
            w.changed.set()
        tasks = [w.task for w in self._watched.values() if w.task is not None]
        self._watched.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
