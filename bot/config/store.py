"""Where plans, audit and delivery keys live, and how instances share the plans they run (execution leases)."""

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
        )
