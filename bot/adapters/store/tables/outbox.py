"""The outbox of messages to Teams, as the outbox worker reads and claims it.

A message is an "outbox-<ns>-<random>" row in its plan's partition (or OUTBOX when it names no plan), written in the
plan's transaction (see unit_of_work.py). Claims are ETag-conditional merges: of two instances, one wins.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from ....domain.plan import Thread
from ....ports import OutboxMessage, ThreadOpening
from ..codec import message_from_row, thread_from_dict
from ..common import last_error
from .base import TableBase
from .entities import THREADS, digest, thread_home, thread_key, unchunk
from .transport import on_its_loop

SOONEST_FRESH = 0.5  # seconds the soonest due time read by a scan of the outbox is used instead of another scan


class OutboxRows(TableBase):
    _soonest: tuple[float, float | None] | None = None  # (when read, the soonest due time then) by due_messages

    def _row(self, seq: int) -> tuple[str, str]:
        return self._seqs[seq]

    @on_its_loop
    async def due_messages(self, now: float, limit: int) -> list[OutboxMessage]:
        heads: dict[str, dict[str, Any]] = {}
        async for e in self._pending():
            if e["Key"] not in heads or e["Seq"] < heads[e["Key"]]["Seq"]:
                heads[e["Key"]] = e
        due = sorted((e for e in heads.values() if e["NotBefore"] <= now and e["ClaimedUntil"] <= now), key=lambda e: e["Seq"])
        times = [max(float(e["NotBefore"]), float(e["ClaimedUntil"])) for e in heads.values()]
        later = [t for t in times if t > now]
        # what next_message_due would read: kept from this scan (the worker asks right after), not scanned again
        self._soonest = (time.monotonic(), now if len(due) > limit else min(later, default=None))
        return [self._message(e) for e in due[:limit]]

    def _pending(self) -> AsyncIterator[dict[str, Any]]:
        return self._plans.query_entities("Kind eq @k and State eq @s", parameters={"k": "outbox", "s": "pending"})

    def _message(self, e: dict[str, Any]) -> OutboxMessage:
        self._seqs[int(e["Seq"])] = (e["PartitionKey"], e["RowKey"])
        return message_from_row(
            int(e["Seq"]),
            e["Key"],
            e["MsgKind"],
            e.get("PlanId") or None,
            int(e["PlanVersion"]),
            unchunk("Data", e).decode(),
            int(e["Attempts"]),
        )

    @on_its_loop
    async def claim_message(self, seq: int, owner: str, now: float, until: float) -> bool:
        pk, rk = self._row(seq)
        try:
            e = await self._plans.get_entity(pk, rk)
        except ResourceNotFoundError:
            return False
        if e["State"] != "pending" or e["ClaimedUntil"] > now:
            return False
        return await self._merge_if_unchanged(self._plans, e, ClaimedBy=owner, ClaimedUntil=until)  # False: another claimed it first

    @on_its_loop
    async def renew_claim(self, seq: int, owner: str, until: float) -> bool:
        """Extend `owner`'s claim on message `seq` while it is being sent (ETag-conditional); False once it is sent
        or not ours."""
        if seq not in self._seqs:
            return False  # delivered or given up by this instance
        pk, rk = self._row(seq)
        try:
            e = await self._plans.get_entity(pk, rk)
        except ResourceNotFoundError:
            return False
        if e["State"] != "pending" or e.get("ClaimedBy") != owner:
            return False
        return await self._merge_if_unchanged(self._plans, e, ClaimedUntil=until)

    async def _merge(self, seq: int, **values: Any) -> None:
        pk, rk = self._row(seq)
        with contextlib.suppress(ResourceNotFoundError):
            await self._plans.update_entity({"PartitionKey": pk, "RowKey": rk, **values}, mode=UpdateMode.MERGE)

    @on_its_loop
    async def retry_message(self, seq: int, attempts: int, not_before: float, error: str) -> None:
        await self._merge(seq, Attempts=attempts, NotBefore=not_before, LastError=last_error(error), ClaimedBy="", ClaimedUntil=0.0)

    @on_its_loop
    async def release_message(self, seq: int) -> None:
        await self._merge(seq, ClaimedBy="", ClaimedUntil=0.0)

    @on_its_loop
    async def next_message_due(self) -> float | None:
        """When the earliest message not handed out by the last `due_messages` may be tried (None: none waits)."""
        if self._soonest is not None and time.monotonic() - self._soonest[0] < SOONEST_FRESH:
            return self._soonest[1]
        times = [max(float(e["NotBefore"]), float(e["ClaimedUntil"])) async for e in self._pending()]
        return min(times) if times else None

    @on_its_loop
    async def thread_named(self, ref: str) -> Thread | None:
        """The thread Teams created for the pending thread `ref` (None: not created, or not yet)."""
        await self._ready()
        for pk, rk in (thread_key(ref), (THREADS, digest(ref))):  # then where names were kept before thread_home
            try:
                e = await self._plans.get_entity(pk, rk)
            except ResourceNotFoundError:
                continue
            return thread_from_dict(json.loads(e["Thread"]))
        return None

    @on_its_loop
    async def next_for_thread(self, opening: OutboxMessage, now: float, after: int) -> OutboxMessage | None:
        """The oldest message after message `after` waiting for the thread `opening` opens, if due and unclaimed. The
        messages aimed at a pending thread are its plan's, kept where the opening message is (thread_home): one
        partition to read."""
        assert opening.thread_ref is not None
        query = self._plans.query_entities(
            "PartitionKey eq @p and Kind eq @k and State eq @s and Key eq @key",
            parameters={"p": thread_home(opening.thread_ref), "k": "outbox", "s": "pending", "key": opening.key},
        )
        rows = sorted([e async for e in query if int(e["Seq"]) > after], key=lambda e: e["Seq"])
        if not rows or rows[0]["NotBefore"] > now or rows[0]["ClaimedUntil"] > now:
            return None
        return self._message(rows[0])

    @on_its_loop
    async def thread_opening(self, ref: str) -> ThreadOpening | None:
        """The message that opens the pending thread `ref` while it is in the outbox: waiting, or given up."""
        await self._ready()
        query = self._plans.query_entities(
            "PartitionKey eq @p and Kind eq @k and Ref eq @ref", parameters={"p": thread_home(ref), "k": "outbox", "ref": ref}
        )
        async for e in query:
            return ThreadOpening(self._message(e), (e.get("LastError") or "given up") if e["State"] == "dead" else None)
        return None

    @on_its_loop
    async def cards_unsent(self) -> set[str]:
        """The plans whose card is waiting in the outbox (not given up)."""
        await self._ready()
        query = self._plans.query_entities(
            "Kind eq @k and MsgKind eq @m and State eq @s", parameters={"k": "outbox", "m": "post_card", "s": "pending"}, select=["PlanId"]
        )
        return {e["PlanId"] async for e in query}

    async def _count_outbox(self, state: str) -> int:
        await self._ready()
        query = self._plans.query_entities("Kind eq @k and State eq @s", parameters={"k": "outbox", "s": state}, select=["RowKey"])
        return len([e async for e in query])

    def outbox_depth(self) -> int:
        """Messages not sent yet (for /metrics and /readyz, called from a worker thread)."""
        return self._call(self._count_outbox("pending"))

    def dead_letters(self) -> int:
        return self._call(self._count_outbox("dead"))
