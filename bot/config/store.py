"""Where plans, audit and delivery keys live, how instances share the plans they run (execution leases), and which
Storage Queue alerts wait in with STORE=azure-tables (its visibility timeout and poison threshold are limits)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .reader import Reader, declared

SETTINGS = declared("store")


@dataclass(frozen=True)
class StoreSettings:
    kind: str  # sqlite or azure-tables
    path: Path
    sqlite_wal: str
    account_url: str
    connection_string: str = field(repr=False)
    table_prefix: str
    instance_id: str
    execution_lease_seconds: float
    inbox_queue_name: str  # with STORE=azure-tables, alerts wait in this Storage Queue (bot/adapters/queue_inbox.py)
    queue_url: str  # its account's Queue endpoint ("" with a connection string: the string names it)

    @classmethod
    def read(cls, r: Reader) -> StoreSettings:
        kind = r.choice("STORE", ("sqlite", "azure-tables")).lower()
        prefix = r.get("STORE_TABLE_PREFIX")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,50}", prefix):
            r.bad(
                f"STORE_TABLE_PREFIX={prefix!r} is invalid: expected letters and digits, starting with a letter, at "
                "most 51 characters (table names allow nothing else)"
            )
        account_url = r.url("AZURE_STORAGE_ACCOUNT_URL", optional=True)
        connection_string = r.get("AZURE_STORAGE_CONNECTION_STRING")
        if kind == "azure-tables" and not account_url and not connection_string:
            r.bad("AZURE_STORAGE_ACCOUNT_URL is required when STORE=azure-tables (or set AZURE_STORAGE_CONNECTION_STRING)")
        return cls(
            kind=kind,
            path=Path(r.get("STORE_PATH")),
            sqlite_wal=r.choice("STORE_SQLITE_WAL", ("auto", "on", "off")).lower(),
            account_url=account_url,
            connection_string=connection_string,
            table_prefix=prefix,
            # App Service names each instance of a plan in WEBSITE_INSTANCE_ID (a long hex string): its start suffices
            instance_id=r.get("INSTANCE_ID") or r.env.get("WEBSITE_INSTANCE_ID", "").strip()[:16],
            execution_lease_seconds=r.number("EXECUTION_LEASE_SECONDS", 0.3, integer=False),
            inbox_queue_name=_queue_name(r),
            queue_url=_queue_url(r, kind, account_url, connection_string),
        )


def _queue_name(r: Reader) -> str:
    name = r.get("INBOX_QUEUE_NAME")
    # queue names: 3-63 lower-case letters, digits and single hyphens, not starting or ending with one
    # (https://learn.microsoft.com/rest/api/storageservices/naming-queues-and-metadata); 56 leaves room for -poison
    if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,54}[a-z0-9]", name):
        r.bad(
            f"INBOX_QUEUE_NAME={name!r} is invalid: expected 3 to 56 lower-case letters, digits and single hyphens, "
            "starting and ending with a letter or digit"
        )
    return name


def _queue_url(r: Reader, kind: str, account_url: str, connection_string: str) -> str:
    """AZURE_STORAGE_QUEUE_URL, else the table endpoint's twin (same account, .queue. for .table.)."""
    queue_url = r.url("AZURE_STORAGE_QUEUE_URL", optional=True)
    if not queue_url and ".table." in account_url:
        queue_url = account_url.replace(".table.", ".queue.", 1)
    if kind == "azure-tables" and account_url and not queue_url and not connection_string:
        r.bad(
            "AZURE_STORAGE_QUEUE_URL is required when AZURE_STORAGE_ACCOUNT_URL is not a *.table.* endpoint "
            "(expected https://<account>.queue.core.windows.net)"
        )
    return queue_url
