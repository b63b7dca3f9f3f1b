"""TableStore: the Table Storage store, composed of its parts (one per thing it holds) over one set of table clients."""

from __future__ import annotations

import asyncio
import contextlib

from .audit_check import AuditCheck
from .conversations import ConversationRows
from .inbox import InboxRows
from .outbox import OutboxRows
from .plans import PlanRows
from .unit_of_work import UnitsOfWork


class TableStore(PlanRows, UnitsOfWork, OutboxRows, InboxRows, ConversationRows, AuditCheck):
    """PlanStore, AuditLog, outbox, inbox and 1:1 chats over Azure Table Storage (see the package docstring for the
    layout). Each part (plans.py, leases.py, unit_of_work.py, outbox.py, inbox.py, conversations.py) reaches the
    tables through the clients of TableBase (base.py)."""

    async def aclose(self) -> None:
        """Stop; the leases this instance still holds end now (its executions were drained or cancelled), so another
        instance recovers those plans at once instead of after the lease."""
        if self._closed:
            return
        held = self.leases.held
        self.leases.close()
        for plan_id in held:
            with contextlib.suppress(Exception):  # unreachable: the lease lapses by itself
                await self._end_lease(plan_id)
        await self._close_clients()

    def close(self) -> None:
        """Stop serving (synchronous, like SqliteStore.close); the HTTP clients close on their loop."""
        if self._closed:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.aclose(), loop)
