"""The production store: plans, their audit trail, the outbox, the alert inbox and 1:1 chats in Azure Table Storage.

Why: on App Service the SQLite file lives on an SMB share (no WAL, no safe sharing between the
instances of a scale-out or of a slot swap). Table Storage is in the storage account the Bicep already
creates, reached with the agent's managed identity (role "Storage Table Data Contributor").

Layout (three tables, names `<STORE_TABLE_PREFIX>plans`, `<STORE_TABLE_PREFIX>deliveries` and
`<STORE_TABLE_PREFIX>conversations`):

    plans table, one partition per plan (PartitionKey = the plan id, see `entities.partition`):
      RowKey "plan"                      the plan: State, Version, ExpiresAt, IncidentId, and the plan's JSON
                                         (the codec's form) as binary chunks Data00, Data01, ... of <= 64,000 bytes
      RowKey "version-0000000007"        one marker per version ever written (State, At); created, never updated
      RowKey "audit-<ns:020>-<random>"   one audit event each; created, never updated. <ns> is the writing
                                         process's clock in nanoseconds, strictly increasing within a process,
                                         so RowKey order is write order; the random part keeps two instances
                                         writing in the same nanosecond apart
      RowKey "outbox-<ns:020>-<random>"  one message to Teams each (the outbox), written in the plan's transaction
      RowKey "lease"                     the execution lease (Owner, Until): written in the transaction that moves the
                                         plan into APPROVED or an executing state, renewed by its owner's heartbeat
                                         (ETag-conditional), ended (Until 0) in the transaction that moves it out
    partition "!no-plan"                 audit events that name no plan (a click on an unknown plan)
    partition "!outbox"                  messages to Teams that name no plan (a command's answer, an incident thread)
    partition "!threads"                 channel threads the outbox opened, by the name later messages knew them by
    deliveries table: PartitionKey = first 2 hex digits of sha256(key), RowKey = the whole sha256 hex digest;
                                         the alert inbox (payload, state, attempts, outcome)
    conversations table: PartitionKey = the tenant, RowKey = the person's object id; their 1:1 chat

The parts, one module each: transport.py (the pooled HTTP transport, every call on the store's loop), entities.py
(entities to and from the domain, keys, chunking, limits), base.py (the table clients and lifecycle), plans.py
(plans, compare-and-set, audit), leases.py, unit_of_work.py, outbox.py, inbox.py, conversations.py; store.py
composes them into TableStore.
"""

from .base import StoreClosed
from .entities import StoreLimitExceeded
from .plans import PlanAlreadyExists
from .store import TableStore
from .unit_of_work import TableUnitOfWork

__all__ = ["PlanAlreadyExists", "StoreClosed", "StoreLimitExceeded", "TableStore", "TableUnitOfWork"]
