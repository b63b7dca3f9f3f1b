"""The outbox of messages to Teams, as the outbox worker reads and claims it; and the threads it opened."""

from __future__ import annotations

import json

from ....domain.plan import Thread
from ....ports import MessageKind, OutboxMessage, ThreadOpening
from ..codec import message_from_row, thread_from_dict
from ..common import last_error
from .base import SqliteBase


class OutboxRows(SqliteBase):
    async def due_messages(self, now: float, limit: int) -> list[OutboxMessage]:
        """The oldest pending message of each conversation, if it is due and nobody holds it: one at a time per key."""
        rows = await self._run(
            "SELECT o.seq, o.key, o.kind, o.plan_id, o.plan_version, o.data, o.attempts FROM outbox o "
            "JOIN (SELECT MIN(seq) AS seq FROM outbox WHERE state = 'pending' GROUP BY key) h ON h.seq = o.seq "
            "WHERE o.not_before <= ? AND o.claimed_until <= ? ORDER BY o.seq LIMIT ?",
            (now, now, limit),
        )
        return [message_from_row(*r) for r in rows]

    async def claim_message(self, seq: int, owner: str, now: float, until: float) -> bool:
        """Hold message `seq` for this instance until `until` (another instance sharing the store leaves it alone)."""
        return (
            await self._count(
                "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE seq = ? AND state = 'pending' AND claimed_until <= ?",
                (owner, until, seq, now),
            )
            == 1
        )

    async def renew_claim(self, seq: int, owner: str, until: float) -> bool:
        """Extend `owner`'s claim on message `seq` while it is being sent; False once it is sent or not ours."""
        return (
            await self._count(
                "UPDATE outbox SET claimed_until = ? WHERE seq = ? AND state = 'pending' AND claimed_by = ?",
                (until, seq, owner),
            )
            == 1
        )

    async def retry_message(self, seq: int, attempts: int, not_before: float, error: str) -> None:
        await self._count(
            "UPDATE outbox SET attempts = ?, not_before = ?, last_error = ?, claimed_by = NULL, claimed_until = 0 WHERE seq = ?",
            (attempts, not_before, last_error(error), seq),
        )

    async def release_message(self, seq: int) -> None:
        await self._count("UPDATE outbox SET claimed_by = NULL, claimed_until = 0 WHERE seq = ?", (seq,))

    async def next_message_due(self) -> float | None:
        """When the earliest pending message may be tried (None: the outbox is empty)."""
        rows = await self._run("SELECT MIN(MAX(not_before, claimed_until)) FROM outbox WHERE state = 'pending'")
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def thread_named(self, ref: str) -> Thread | None:
        rows = await self._run("SELECT data FROM threads WHERE ref = ?", (ref,))
        return thread_from_dict(json.loads(rows[0][0])) if rows else None

    async def next_for_thread(self, opening: OutboxMessage, now: float, after: int) -> OutboxMessage | None:
        """The oldest message after message `after` waiting for the thread `opening` opens (its key), if due and
        unclaimed."""
        rows = await self._run(
            "SELECT seq, key, kind, plan_id, plan_version, data, attempts, not_before, claimed_until FROM outbox "
            "WHERE key = ? AND state = 'pending' AND seq > ? ORDER BY seq LIMIT 1",
            (opening.key, after),
        )
        if not rows or rows[0][7] > now or rows[0][8] > now:
            return None
        return message_from_row(*rows[0][:7])

    async def thread_opening(self, ref: str) -> ThreadOpening | None:
        """The message that opens the pending thread `ref` while it is in the outbox: waiting, or given up. Its key is
        the pending thread's conversation key, which ends with `ref`."""
        rows = await self._run(
            "SELECT seq, key, kind, plan_id, plan_version, data, attempts, state, last_error FROM outbox "
            "WHERE kind = ? AND substr(key, -?) = ? ORDER BY seq DESC",
            (MessageKind.OPEN_THREAD.value, len(ref), ref),
        )
        for *row, state, error in rows:
            message = message_from_row(*row)
            if message.thread_ref == ref:
                return ThreadOpening(message, (error or "given up") if state == "dead" else None)
        return None

    async def cards_unsent(self) -> set[str]:
        """The plans whose card is waiting in the outbox (not given up)."""
        rows = await self._run("SELECT DISTINCT plan_id FROM outbox WHERE kind = ? AND state = 'pending'", (MessageKind.POST_CARD.value,))
        return {r[0] for r in rows if r[0]}

    def outbox_depth(self) -> int:
        """Messages not sent yet (for /metrics and /readyz)."""
        return self._number("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")

    def dead_letters(self) -> int:
        """Messages given up on (for /metrics and /readyz)."""
        return self._number("SELECT COUNT(*) FROM outbox WHERE state = 'dead'")
