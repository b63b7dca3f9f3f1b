"""The embedded store: plans with versioned compare-and-set, an append-only audit log, the outbox of messages to
Teams, the inbox of alerts and people's 1:1 chats, in SQLite.

A unit of work is one SQLite transaction (see unit_of_work.py). Write-ahead logging follows the file system the file
is on (see wal.py); several instances should use the Azure Table Storage store instead (STORE=azure-tables).

The parts, one module each, named as the Table Storage store's: schema.py, wal.py, base.py (the connection),
plans.py (plans and audit), leases.py, unit_of_work.py, outbox.py, inbox.py, conversations.py; store.py composes
them into SqliteStore.
"""

from ..common import Listener
from .schema import SCHEMA
from .store import SqliteStore
from .unit_of_work import SqliteUnitOfWork
from .wal import NETWORK_FILE_SYSTEMS, file_system_type, use_wal

__all__ = ["NETWORK_FILE_SYSTEMS", "SCHEMA", "Listener", "SqliteStore", "SqliteUnitOfWork", "file_system_type", "use_wal"]
