"""Audit rows rewritten after they were written, found by the time Table Storage itself stamped on them.

Table Storage cannot keep the bot's own identity from updating an entity it may insert: the plan rows it must update
share the table (and each audit row its plan's partition, so that one transaction moves the plan and appends its
audit), and role assignment conditions, which could tell entities apart, cover Blob Storage and Queues only
(https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac). A rewrite is detected rather than prevented.

Every entity carries `Timestamp`, set by the service on each write and not settable by a client
(https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#timestamp-property);
an audit row's RowKey holds the time it was written (`audit-<ns>-...`). A row the service last wrote well after that
was updated after it was written: the bot never does so. Deletions leave no row: the storage account's StorageDelete
logs (infra/main.bicep) keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .base import TableBase
from .transport import on_its_loop

TOLERANCE_SECONDS = 300.0  # clock skew between an instance and the service, and a write's own time in flight


@dataclass(frozen=True)
class RewrittenAudit:
    plan_id: str | None
    row_key: str
    event: str
    written: datetime  # the time in the row key: when the bot wrote it
    last_written: datetime  # the service's Timestamp: when it was last written


class AuditCheck(TableBase):
    @on_its_loop
    async def rewritten_audit(self, tolerance: float = TOLERANCE_SECONDS) -> list[RewrittenAudit]:
        """Every audit row the service wrote more than `tolerance` seconds after the bot wrote it."""
        await self._ready()
        found = []
        query = self._plans.query_entities("RowKey ge @low and RowKey lt @high", parameters={"low": "audit-", "high": "audit."})
        async for e in query:
            row_key = str(e["RowKey"])
            written = datetime.fromtimestamp(int(row_key.split("-")[1]) / 1e9, UTC)
            stamped = e.metadata.get("timestamp")
            if isinstance(stamped, datetime) and (stamped - written).total_seconds() > tolerance:
                found.append(RewrittenAudit(e.get("PlanId") or None, row_key, str(e.get("Event", "")), written, stamped))
        return found
