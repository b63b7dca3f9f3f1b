"""SqliteStore: the embedded store, composed of its parts (one per thing it holds) over one connection."""

from __future__ import annotations

from .conversations import ConversationRows
from .inbox import InboxRows
from .leases import LeaseRows
from .outbox import OutboxRows
from .plans import PlanRows
from .unit_of_work import UnitsOfWork


class SqliteStore(PlanRows, LeaseRows, UnitsOfWork, OutboxRows, InboxRows, ConversationRows):
    """PlanStore, AuditLog, outbox, inbox and 1:1 chats over one SQLite file; calls run in a worker thread. Each part
    (plans.py, leases.py, unit_of_work.py, outbox.py, inbox.py, conversations.py) reaches the file through the
    connection of SqliteBase (base.py)."""

    def close(self) -> None:
        """Stop; the leases this instance still holds end now (its executions were drained or cancelled), so another
        instance recovers those plans at once instead of after the lease."""
        held = self.leases.held
        self.leases.close()
        with self._lock:
            self._end_leases(held)
            self._conn.close()
