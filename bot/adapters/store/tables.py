"""The production store: plans, their audit trail and webhook delivery keys in Azure Table Storage.

Why: on App Service the SQLite file lives on an SMB share (no WAL, no safe sharing between the
instances of a scale-out or of a slot swap). Table Storage is in the storage account the Bicep already
creates, reached with the agent's managed identity (role "Storage Table Data Contributor").

Layout (two tables, names `<STORE_TABLE_PREFIX>plans` and `<STORE_TABLE_PREFIX>deliveries`):

    plans table, one partition per plan (PartitionKey = the plan id, see `_partition`):
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

Compare-and-set. A save reads the plan row (its ETag and Version), then writes, in one entity-group
transaction (one partition, all or nothing): the plan row replaced *if its ETag is unchanged*
(If-Match), the version marker of the new version *created*, and the audit events *created*. A 412
(ETag changed) or a 409 (the marker exists: another writer took that version) fails the whole
transaction: `ConcurrentUpdate`, nothing written. The marker is what makes the check hold where ETags
inside a batch are not enforced (Azurite ignores them, Azure/Azurite#1233): the test emulator and Azure
both refuse a second insert of one key, so the store never relies on the batch ETag alone.
`save_with_events` is the adapter method a unit of work can use to commit a state change with its
audit events; `add_with_events` likewise for a new plan.

Queries by state and by incident are filter queries over the plan rows (`RowKey eq 'plan' and (State eq
...)`): Table Storage has no secondary index, and an index partition per state could not be updated in
the plan's transaction (another partition), so it would need repair logic for every crash between two
writes. A consent bot stores tens of plans a day; the sweeper's scan every SWEEP_INTERVAL_SECONDS reads
them server-side in pages of 1,000. Revisit with an index (or an archive table for finished plans) if
the table grows past ~100,000 plans.

Limits (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model):
64 KiB per property, 1 MiB per entity, 255 properties; a transaction holds at most 100 operations and
4 MiB (https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions). Plans
and audit details are split into 64,000-byte chunks, up to 14 (896,000 bytes); anything larger is refused
with `StoreLimitExceeded` before any write.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import aiohttp
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.core.pipeline.transport import AioHttpTransport
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from ...domain.audit import AuditEvent
from ...domain.errors import ConcurrentUpdate
from ...domain.plan import Plan, PlanState, Thread
from ...ports import ConversationRef, Lease, OutboxMessage
from .codec import message_data, message_from_row, plan_from_dict, plan_to_dict, thread_from_dict, thread_to_dict
from .leases import ACTIVE_STATES, DEFAULT_LEASE_SECONDS, LeaseKeeper, instance_id

CHUNK_BYTES = 64_000  # a binary property holds at most 64 KiB
MAX_CHUNKS = 14  # 896,000 bytes: room left for the other properties under the 1 MiB entity limit
MAX_EVENTS_PER_SAVE = 98  # a transaction holds 100 operations: the plan row, its version marker, the events
NO_PLAN = "!no-plan"  # cannot be a plan's partition: `_partition` never yields "!"
OUTBOX = "!outbox"  # messages to Teams that name no plan
THREADS = "!threads"  # channel threads the outbox created, by the name messages knew them by
PLAN_ROW = "plan"
LEASE_ROW = "lease"
SIMPLE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
STATES_PER_QUERY = 10  # a filter holds at most 15 comparisons
T = TypeVar("T")
P = ParamSpec("P")


class StoreLimitExceeded(ValueError):
    """A plan or audit event too large for one Table Storage entity; nothing was written."""


class PlanAlreadyExists(Exception):
    """`add` of a plan id that is already stored; the stored plan is unchanged."""


class StoreClosed(RuntimeError):
    """The store was closed; no call reaches Azure any more."""


def _partition(plan_id: str) -> str:
    """The plan's PartitionKey: the id itself when it is plain; otherwise a digest, as keys may not hold
    / \\ # ? or control characters and are at most 1 KiB (ids come from URLs too)."""
    return plan_id if SIMPLE_ID.match(plan_id) else "~" + hashlib.sha256(plan_id.encode()).hexdigest()


def _chunks(prefix: str, data: bytes, what: str) -> dict[str, bytes]:
    if len(data) > CHUNK_BYTES * MAX_CHUNKS:
        raise StoreLimitExceeded(
            f"{what} takes {len(data):,} bytes once stored; Azure Table Storage holds at most "
            f"{CHUNK_BYTES * MAX_CHUNKS:,} bytes per entity: nothing was written. Shorten it (or split the plan)."
        )
    return {f"{prefix}{i:02d}": data[o : o + CHUNK_BYTES] for i, o in enumerate(range(0, max(len(data), 1), CHUNK_BYTES))}


def _unchunk(prefix: str, entity: dict[str, Any]) -> bytes:
    parts: list[bytes] = []
    while (part := entity.get(f"{prefix}{len(parts):02d}")) is not None:
        parts.append(bytes(part))
    return b"".join(parts)


def _marker(plan_id: str, version: int, state: PlanState) -> dict[str, Any]:
    return {
        "PartitionKey": _partition(plan_id),
        "RowKey": f"version-{version:010d}",
        "Kind": "version",
        "PlanId": plan_id,
        "Version": version,
        "State": state.value,
        "At": datetime.now().astimezone().isoformat(),
    }


def _plan_entity(plan: Plan) -> dict[str, Any]:
    data = json.dumps(plan_to_dict(plan), ensure_ascii=False).encode()
    return {
        "PartitionKey": _partition(plan.id),
        "RowKey": PLAN_ROW,
        "Kind": "plan",
        "PlanId": plan.id,
        "State": plan.state.value,
        "Version": plan.version,
        "ExpiresAt": plan.expires_at.isoformat(),
        "IncidentId": plan.incident_id or "",
        "Size": len(data),
        **_chunks("Data", data, f"plan {plan.id}"),
    }


def _plan_from(entity: dict[str, Any]) -> Plan:
    return plan_from_dict(json.loads(_unchunk("Data", entity)))


def _event_from(entity: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        at=datetime.fromisoformat(entity["At"]),
        plan_id=entity.get("PlanId") or None,
        actor=entity["Actor"],
        actor_name=entity["ActorName"],
        event=entity["Event"],
        from_state=entity.get("FromState") or None,
        to_state=entity.get("ToState") or None,
        detail=json.loads(_unchunk("Detail", entity)),
        seq=int(entity["RowKey"].split("-")[1]),
    )


def _conflict(error: HttpResponseError) -> bool:
    """412: the plan row's ETag changed; 409: the version marker exists. Either way another writer won."""
    return error.status_code in (409, 412)


IDLE_CONNECTION_SECONDS = 4.0  # below the 5 s after which Node's HTTP server (Azurite) drops an idle connection


class _PooledTransport(AioHttpTransport):  # type: ignore[misc]
    """azure-core's aiohttp transport, with the TLS context built once instead of on every request.

    Given `connection_verify` (a CA bundle: SSL_CERT_FILE), azure-core 1.x builds a new SSLContext per request
    (reading the bundle each time) and aiohttp, whose connection pool is keyed by that context, then opens a new
    connection for every request: measured in `make bench` (docs/benchmarks.md, Profile), a third of an Approve
    click's time on Table Storage."""

    _ssl: tuple[Any, Any] | None = None

    async def open(self) -> None:
        # Keep idle connections for less time than the service does: a server that closes an idle connection just
        # as a request goes out on it fails that request, and azure-core does not retry non-idempotent ones (POST
        # inserts, entity-group batches, MERGE). Node's HTTP server, Azurite's, closes them after 5 s; aiohttp's
        # default keeps them 15 s. Reconnecting after an idle moment costs one handshake.
        if self.session is None and self._session_owner:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS),
                trust_env=self._use_env_settings,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        await super().open()

    def _build_ssl_config(self, cert: Any, verify: Any) -> Any:
        if self._ssl is None or self._ssl[0] != (cert, verify):
            self._ssl = ((cert, verify), super()._build_ssl_config(cert, verify))
        return self._ssl[1]


def _pooled(client: dict[str, Any]) -> dict[str, Any]:
    """azure-core client options with a CA bundle carried by a transport that keeps its connections."""
    if "connection_verify" in client and "transport" not in client:
        client = {**client, "transport": _PooledTransport(connection_verify=client["connection_verify"])}
    return client


def _on_its_loop(method: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Run the call on the store's event loop, whoever calls: its HTTP connections belong to that loop, and
    the store, like SqliteStore, is usable from any thread (the audit CLI, tests, a worker thread)."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        store = args[0]
        assert isinstance(store, TableStore)
        loop, running = store._loop, asyncio.get_running_loop()
        if loop is None or loop is running or loop.is_closed():
            return await method(*args, **kwargs)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_awaited(method(*args, **kwargs)), loop))

    return call


async def _awaited(work: Awaitable[T]) -> T:
    return await work


class TableStore:
    """PlanStore and AuditLog over Azure Table Storage (see the module docstring for the layout)."""

    def __init__(
        self, service: TableServiceClient, prefix: str = "sreconsent", owner: str = "", lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> None:
        self._service = service
        self.leases = LeaseKeeper(instance_id(owner), lease_seconds, self.renew_lease)
        self.plans_table, self.deliveries_table = f"{prefix}plans", f"{prefix}deliveries"
        self._plans: TableClient = service.get_table_client(self.plans_table)
        self._deliveries: TableClient = service.get_table_client(self.deliveries_table)
        self.conversations_table = f"{prefix}conversations"  # people's 1:1 chats with the bot (ConversationRefs)
        self._conversations: TableClient = service.get_table_client(self.conversations_table)
        try:  # the bot builds its adapters on its event loop; the clients' connections belong to it
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # set by the first call
        self._created = False
        self._closed = False
        self._clock_lock = threading.Lock()
        self._last_ns = 0
        self._counts: dict[str, int] = {}
        self._listeners: list[Callable[[Sequence[AuditEvent], int], None]] = []
        self._seqs: dict[int, tuple[str, str]] = {}  # outbox seq -> (PartitionKey, RowKey), as the worker read them

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str,
        prefix: str = "sreconsent",
        owner: str = "",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        **client: Any,
    ) -> TableStore:
        """`client`: azure-core options, e.g. connection_verify (the CA bundle, SSL_CERT_FILE)."""
        return cls(TableServiceClient.from_connection_string(connection_string, **_pooled(client)), prefix, owner, lease_seconds)

    @classmethod
    def from_account_url(
        cls,
        account_url: str,
        credential: Any,
        prefix: str = "sreconsent",
        owner: str = "",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        **client: Any,
    ) -> TableStore:
        """`credential`: an azure-core async TokenCredential (the agent's managed identity in production)."""
        return cls(TableServiceClient(endpoint=account_url, credential=credential, **_pooled(client)), prefix, owner, lease_seconds)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def _ready(self) -> None:
        if self._closed:
            raise StoreClosed("the plan store is closed")
        self._loop = self._loop or asyncio.get_running_loop()
        if not self._created:
            for name in (self.plans_table, self.deliveries_table, self.conversations_table):
                with contextlib.suppress(ResourceExistsError):  # created by the deployment or another instance
                    await self._service.create_table(name)
            self._created = True

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
        self._closed = True
        await self._plans.close()
        await self._deliveries.close()
        await self._conversations.close()
        await self._service.close()

    def close(self) -> None:
        """Stop serving (synchronous, like SqliteStore.close); the HTTP clients close on their loop."""
        if self._closed:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.aclose(), loop)

    def _call(self, work: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run `work` on the store's event loop from another thread (the /readyz and /metrics callers)."""
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or loop.is_closed() or running is loop:
            work.close()
            raise StoreClosed("the plan store's event loop is not available from here")
        return asyncio.run_coroutine_threadsafe(work, loop).result(timeout)

    def ping(self) -> bool:
        """True when Table Storage answers (for /readyz; called from a worker thread)."""
        if self._closed:
            return False
        try:
            return self._call(self._aping())
        except Exception:
            return False

    async def _aping(self) -> bool:
        await self._ready()
        with contextlib.suppress(ResourceNotFoundError):  # an answer: the service is there and lets us read
            await self._plans.get_entity(NO_PLAN, "ping")
        return True

    def count_by_state(self) -> dict[str, int]:
        """Plans per state (for /metrics, called from a worker thread); the last known counts if Azure is slow."""
        with contextlib.suppress(Exception):  # a scrape must not fail because Azure is slow
            self._counts = self._call(self._acount())
        return dict(self._counts)

    async def _acount(self) -> dict[str, int]:
        await self._ready()
        counts: dict[str, int] = {}
        async for e in self._plans.query_entities("RowKey eq @row", parameters={"row": PLAN_ROW}, select=["State"]):
            counts[e["State"]] = counts.get(e["State"], 0) + 1
        return counts

    # -- PlanStore ---------------------------------------------------------------------------------
    @_on_its_loop
    async def add(self, plan: Plan) -> Plan:
        return await self.add_with_events(plan, ())

    @_on_its_loop
    async def add_with_events(self, plan: Plan, events: Sequence[AuditEvent]) -> Plan:
        """Store a new plan at version 1 with its audit events, all or nothing."""
        await self._ready()
        plan = replace(plan, version=1)
        operations: list[Any] = [("create", _plan_entity(plan)), ("create", _marker(plan.id, 1, plan.state))]
        operations += [("create", self._event_entity(e, plan.id)) for e in self._check_events(events)]
        try:
            await self._plans.submit_transaction(operations)
        except HttpResponseError as e:
            if e.status_code == 409:
                raise PlanAlreadyExists(f"plan {plan.id} is already stored; it was not replaced") from None
            raise
        return plan

    @_on_its_loop
    async def get(self, plan_id: str) -> Plan | None:
        entity = await self._plan_row(plan_id)
        return None if entity is None else _plan_from(entity)

    async def _plan_row(self, plan_id: str) -> dict[str, Any] | None:
        await self._ready()
        if not plan_id:
            return None
        try:
            entity = await self._plans.get_entity(_partition(plan_id), PLAN_ROW)
        except ResourceNotFoundError:
            return None
        return entity if entity.get("PlanId") == plan_id else None  # a digest partition is the id's only

    @_on_its_loop
    async def save(self, plan: Plan, expected_version: int) -> Plan:
        return await self.save_with_events(plan, expected_version, ())

    @_on_its_loop
    async def save_with_events(self, plan: Plan, expected_version: int, events: Sequence[AuditEvent]) -> Plan:
        """Compare-and-set the plan and append its audit events in one transaction (all or nothing)."""
        stored = await self._plan_row(plan.id)
        if stored is None or stored["Version"] != expected_version:
            raise ConcurrentUpdate(plan.id, expected_version)
        saved = replace(plan, version=expected_version + 1)
        operations: list[Any] = [
            (
                "update",
                _plan_entity(saved),
                {"mode": UpdateMode.REPLACE, "etag": stored.metadata["etag"], "match_condition": MatchConditions.IfNotModified},
            ),
            ("create", _marker(plan.id, saved.version, saved.state)),
        ]
        operations += [("create", self._event_entity(e, plan.id)) for e in self._check_events(events)]
        try:
            await self._plans.submit_transaction(operations)
        except TableTransactionError as e:
            if _conflict(e):
                raise ConcurrentUpdate(plan.id, expected_version) from None
            raise
        return saved

    @_on_its_loop
    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]:
        await self._ready()
        values = sorted({s.value for s in states})
        found: list[Plan] = []
        for start in range(0, len(values), STATES_PER_QUERY):
            group = values[start : start + STATES_PER_QUERY]
            params: dict[str, Any] = {"row": PLAN_ROW, **{f"s{i}": v for i, v in enumerate(group)}}
            where = " or ".join(f"State eq @s{i}" for i in range(len(group)))
            # spaces around the parentheses: the SDK finds @parameters by splitting the filter on spaces
            found += [_plan_from(e) async for e in self._plans.query_entities(f"RowKey eq @row and ( {where} )", parameters=params)]
        return sorted(found, key=lambda p: p.expires_at)

    @_on_its_loop
    async def for_incident(self, incident_id: str) -> list[Plan]:
        await self._ready()
        query = self._plans.query_entities(
            "RowKey eq @row and IncidentId eq @incident", parameters={"row": PLAN_ROW, "incident": incident_id}
        )
        return [_plan_from(e) async for e in query]

    @_on_its_loop
    async def first_delivery(self, key: str) -> bool:
        await self._ready()
        digest = hashlib.sha256(key.encode()).hexdigest()
        try:
            await self._deliveries.create_entity(
                {"PartitionKey": digest[:2], "RowKey": digest, "At": datetime.now().astimezone().isoformat()}
            )
        except ResourceExistsError:
            return False  # the first writer won; this is a retry of a delivery already acted on
        return True

    # -- AuditLog ----------------------------------------------------------------------------------
    def _next_ns(self) -> int:
        """Nanoseconds since the epoch, strictly increasing within this process (the audit order)."""
        with self._clock_lock:
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            return self._last_ns

    def _event_entity(self, event: AuditEvent, plan_id: str | None) -> dict[str, Any]:
        seq = self._next_ns()
        detail = json.dumps(event.detail, sort_keys=True, ensure_ascii=False).encode()
        return {
            "PartitionKey": _partition(plan_id) if plan_id else NO_PLAN,
            "RowKey": f"audit-{seq:020d}-{secrets.token_hex(4)}",
            "Kind": "audit",
            "At": event.at.isoformat(),
            "PlanId": plan_id or "",
            "Actor": event.actor,
            "ActorName": event.actor_name,
            "Event": event.event,
            "FromState": event.from_state or "",
            "ToState": event.to_state or "",
            **_chunks("Detail", detail, f"audit event {event.event} of plan {plan_id}"),
        }

    @staticmethod
    def _check_events(events: Sequence[AuditEvent]) -> Sequence[AuditEvent]:
        if len(events) > MAX_EVENTS_PER_SAVE:
            raise StoreLimitExceeded(
                f"{len(events)} audit events in one save; a transaction holds at most {MAX_EVENTS_PER_SAVE}: nothing was written"
            )
        return events

    @_on_its_loop
    async def record(self, event: AuditEvent) -> None:
        await self._ready()
        await self._plans.create_entity(self._event_entity(event, event.plan_id))

    @_on_its_loop
    async def events(self, plan_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        """In write order. With no plan id this scans every partition (the CLI and tests use it; the bot does not)."""
        await self._ready()
        where, params = "RowKey ge @low and RowKey lt @high", {"low": "audit-", "high": "audit."}
        if plan_id:
            where += " and PartitionKey eq @partition"
            params["partition"] = _partition(plan_id)
        if since:
            where += " and At ge @since"  # ISO strings, compared as the SQLite store compares them
            params["since"] = since.isoformat()
        rows = [e async for e in self._plans.query_entities(where, parameters=params)]
        rows.sort(key=lambda e: str(e["RowKey"]))  # the writing time in nanoseconds, then the random part
        return [_event_from(e) for e in rows if not plan_id or e.get("PlanId") == plan_id]

    # -- units of work, the outbox and the inbox ---------------------------------------------------
    # A unit of work is applied as one entity-group transaction per partition: a plan's row, its version marker,
    # its audit events and its outbox messages share the plan's PartitionKey, so one transition is all or nothing.
    # Messages that name no plan (a command's answer, an incident thread) live in the OUTBOX partition, pending
    # threads in THREADS; alerts in the deliveries table. A unit of work spanning several partitions (an alert that
    # proposes several plans) commits partition by partition, plans first and the inbox entry last: a failure
    # between two leaves the alert unprocessed, and processing it again may propose a plan twice.

    def subscribe(self, listener: Callable[[Sequence[AuditEvent], int], None]) -> None:
        self._listeners.append(listener)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[TableUnitOfWork]:
        uow = TableUnitOfWork(self)
        yield uow
        if uow.ops:
            await self._apply(uow)
            for seq in uow.finished:
                self._seqs.pop(seq, None)
            for plan_id, state in uow.saved:
                self.leases.saved(plan_id, state)
            for listener in self._listeners:
                listener(uow.events, uow.messages)

    @_on_its_loop
    async def _apply(self, uow: TableUnitOfWork) -> None:
        await self._ready()
        partitions: dict[str, list[Any]] = {}
        inbox: list[Callable[[], Awaitable[None]]] = []
        coalesce: list[tuple[str, int]] = []
        for op in uow.ops:
            if callable(op):
                inbox.append(op)
                continue
            partition, kind, payload = op
            if kind == "save":
                plan, expected = payload
                stored = await self._plan_row(plan.id)
                if stored is None or stored["Version"] != expected:
                    raise ConcurrentUpdate(plan.id, expected)
                partitions.setdefault(partition, []).extend(
                    [
                        (
                            "update",
                            _plan_entity(plan),
                            {"mode": UpdateMode.REPLACE, "etag": stored.metadata["etag"], "match_condition": MatchConditions.IfNotModified},
                        ),
                        ("create", _marker(plan.id, plan.version, plan.state)),
                    ]
                )
                was = stored["State"]
                if was != plan.state.value and {was, plan.state.value} & {s.value for s in ACTIVE_STATES}:
                    # into or out of APPROVED/executing; a save that keeps the state leaves the lease with its holder
                    partitions[partition].append(("upsert", self._lease_entity(plan)))
            elif kind == "coalesce":
                coalesce.append((partition, payload[1]))
            else:
                partitions.setdefault(partition, []).append(payload)
        ordered = sorted(partitions, key=lambda p: p in (OUTBOX, THREADS))  # plans first
        for partition in ordered:
            operations = partitions[partition]
            for start in range(0, len(operations), 100):
                try:
                    await self._plans.submit_transaction(operations[start : start + 100])
                except TableTransactionError as e:
                    if _conflict(e):
                        raise ConcurrentUpdate(partition, -1) from None
                    raise
        for write in inbox:
            await write()
        for partition, version in coalesce:
            await self._coalesce(partition, version, {op[1]["RowKey"] for op in partitions.get(partition, ()) if op[0] == "delete"})

    async def _coalesce(self, partition: str, version: int, deleted: set[str]) -> None:
        """Drop the card updates the card just sent covers, after the commit and one by one, each only if unchanged
        since read (ETag): another instance may claim one meanwhile (and then sends and deletes it itself). Best effort:
        an update left behind is sent later and shows the plan as stored then, so nothing is lost or shown wrong.
        (Inside the transaction, a row deleted by another instance first would fail the whole batch with a 404.)"""
        query = self._plans.query_entities(
            "PartitionKey eq @p and Kind eq @k and MsgKind eq @m and State eq @s and PlanVersion le @v and ClaimedUntil le @zero",
            parameters={"p": partition, "k": "outbox", "m": "update_card", "s": "pending", "v": version, "zero": 0.0},
        )
        async for e in query:
            if e["RowKey"] in deleted:
                continue
            with contextlib.suppress(ResourceNotFoundError, HttpResponseError):
                await self._plans.delete_entity(
                    partition, e["RowKey"], etag=e.metadata["etag"], match_condition=MatchConditions.IfNotModified
                )

    def _lease_entity(self, plan: Plan) -> dict[str, Any]:
        """The plan's lease as its new state makes it: held by this instance in APPROVED or an executing state,
        ended (Until 0) otherwise."""
        held = plan.state in ACTIVE_STATES
        return {
            "PartitionKey": _partition(plan.id),
            "RowKey": LEASE_ROW,
            "Kind": "lease",
            "PlanId": plan.id,
            "Owner": self.leases.owner if held else "",
            "Until": self.leases.until() if held else 0.0,
        }

    @_on_its_loop
    async def lease(self, plan_id: str) -> Lease | None:
        await self._ready()
        try:
            e = await self._plans.get_entity(_partition(plan_id), LEASE_ROW)
        except ResourceNotFoundError:
            return None
        return Lease(plan_id, e["Owner"], float(e["Until"])) if e["Owner"] else None

    @_on_its_loop
    async def renew_lease(self, plan_id: str, owner: str, until: float) -> bool:
        """Extend `owner`'s lease (the heartbeat), ETag-conditional; False when it ended or another instance holds it."""
        await self._ready()
        try:
            e = await self._plans.get_entity(_partition(plan_id), LEASE_ROW)
        except ResourceNotFoundError:
            return False
        if e["Owner"] != owner or float(e["Until"]) <= 0:
            return False
        try:
            await self._plans.update_entity(
                {"PartitionKey": e["PartitionKey"], "RowKey": LEASE_ROW, "Until": until},
                mode=UpdateMode.MERGE,
                etag=e.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError:
            return False  # written meanwhile: the plan moved on (or another instance took it)
        return True

    async def _end_lease(self, plan_id: str) -> None:
        e = await self._plans.get_entity(_partition(plan_id), LEASE_ROW)
        if e["Owner"] == self.leases.owner:
            await self._plans.update_entity(
                {"PartitionKey": e["PartitionKey"], "RowKey": LEASE_ROW, "Until": 0.0},
                mode=UpdateMode.MERGE,
                etag=e.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )

    def _row(self, seq: int) -> tuple[str, str]:
        return self._seqs[seq]

    @_on_its_loop
    async def due_messages(self, now: float, limit: int) -> list[OutboxMessage]:
        heads: dict[str, dict[str, Any]] = {}
        async for e in self._pending():
            if e["Key"] not in heads or e["Seq"] < heads[e["Key"]]["Seq"]:
                heads[e["Key"]] = e
        due = sorted((e for e in heads.values() if e["NotBefore"] <= now and e["ClaimedUntil"] <= now), key=lambda e: e["Seq"])
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
            _unchunk("Data", e).decode(),
            int(e["Attempts"]),
        )

    @_on_its_loop
    async def claim_message(self, seq: int, owner: str, now: float, until: float) -> bool:
        pk, rk = self._row(seq)
        try:
            e = await self._plans.get_entity(pk, rk)
        except ResourceNotFoundError:
            return False
        if e["State"] != "pending" or e["ClaimedUntil"] > now:
            return False
        try:
            await self._plans.update_entity(
                {"PartitionKey": pk, "RowKey": rk, "ClaimedBy": owner, "ClaimedUntil": until},
                mode=UpdateMode.MERGE,
                etag=e.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError:
            return False  # another instance claimed it first
        return True

    @_on_its_loop
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
        try:
            await self._plans.update_entity(
                {"PartitionKey": pk, "RowKey": rk, "ClaimedUntil": until},
                mode=UpdateMode.MERGE,
                etag=e.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError:
            return False
        return True

    async def _merge(self, seq: int, **values: Any) -> None:
        pk, rk = self._row(seq)
        with contextlib.suppress(ResourceNotFoundError):
            await self._plans.update_entity({"PartitionKey": pk, "RowKey": rk, **values}, mode=UpdateMode.MERGE)

    @_on_its_loop
    async def retry_message(self, seq: int, attempts: int, not_before: float, error: str) -> None:
        await self._merge(seq, Attempts=attempts, NotBefore=not_before, LastError=error[:500], ClaimedBy="", ClaimedUntil=0.0)

    @_on_its_loop
    async def release_message(self, seq: int) -> None:
        await self._merge(seq, ClaimedBy="", ClaimedUntil=0.0)

    @_on_its_loop
    async def next_message_due(self) -> float | None:
        times = [max(float(e["NotBefore"]), float(e["ClaimedUntil"])) async for e in self._pending()]
        return min(times) if times else None

    @_on_its_loop
    async def thread_named(self, ref: str) -> Thread | None:
        await self._ready()
        try:
            e = await self._plans.get_entity(THREADS, hashlib.sha256(ref.encode()).hexdigest())
        except ResourceNotFoundError:
            return None
        return thread_from_dict(json.loads(e["Thread"]))

    # -- 1:1 chats (ConversationRefs): a partition per tenant, a row per person ----------------------
    @staticmethod
    def _ref_keys(tenant_id: str, object_id: str) -> tuple[str, str]:
        def key(value: str) -> str:  # object ids and tenant ids are GUIDs; anything else is hashed into a valid key
            return value if SIMPLE_ID.match(value) else hashlib.sha256(value.encode()).hexdigest()

        return key(tenant_id), key(object_id)

    @_on_its_loop
    async def remember(self, ref: ConversationRef) -> None:
        await self._ready()
        pk, rk = self._ref_keys(ref.tenant_id, ref.object_id)
        await self._conversations.upsert_entity({"PartitionKey": pk, "RowKey": rk, "Ref": json.dumps(asdict(ref))}, mode=UpdateMode.REPLACE)

    @_on_its_loop
    async def forget(self, tenant_id: str, object_id: str) -> None:
        await self._ready()
        await self._conversations.delete_entity(*self._ref_keys(tenant_id, object_id))  # absent: nothing to do

    @_on_its_loop
    async def personal_chat(self, tenant_id: str, object_id: str) -> ConversationRef | None:
        await self._ready()
        try:
            e = await self._conversations.get_entity(*self._ref_keys(tenant_id, object_id))
        except ResourceNotFoundError:
            return None
        return ConversationRef(**json.loads(e["Ref"]))

    async def _count_outbox(self, state: str) -> int:
        await self._ready()
        query = self._plans.query_entities("Kind eq @k and State eq @s", parameters={"k": "outbox", "s": state}, select=["RowKey"])
        return len([e async for e in query])

    def outbox_depth(self) -> int:
        """Messages not sent yet (for /metrics and /readyz, called from a worker thread)."""
        return self._call(self._count_outbox("pending"))

    def dead_letters(self) -> int:
        return self._call(self._count_outbox("dead"))

    # the inbox of alerts, in the deliveries table (PartitionKey: 2 hex digits of the key's digest)
    def _inbox_key(self, key: str) -> tuple[str, str]:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return digest[:2], digest

    @_on_its_loop
    async def accept_alert(self, key: str, payload: dict[str, Any], auth: str) -> str:
        await self._ready()
        pk, rk = self._inbox_key(key)
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            await self._deliveries.create_entity(
                {
                    "PartitionKey": pk,
                    "RowKey": rk,
                    "Key": key,
                    "Auth": auth,
                    "State": "pending",
                    "Attempts": 0,
                    "NotBefore": 0.0,
                    "ClaimedUntil": 0.0,
                    "Received": f"{time.time_ns():020d}",
                    **_chunks("Payload", data, "the alert"),
                }
            )
        except ResourceExistsError:
            e = await self._deliveries.get_entity(pk, rk)
            return "done" if e.get("State") == "done" else "pending"
        return "new"

    def _inbox_pending(self) -> AsyncIterator[dict[str, Any]]:
        return self._deliveries.query_entities("State eq @s", parameters={"s": "pending"})

    @_on_its_loop
    async def due_alerts(self, now: float, limit: int) -> list[tuple[str, dict[str, Any], str, int]]:
        await self._ready()
        rows = [e async for e in self._inbox_pending() if e["NotBefore"] <= now and e["ClaimedUntil"] <= now]
        rows.sort(key=lambda e: e["Received"])
        return [(e["Key"], json.loads(_unchunk("Payload", e)), e["Auth"], int(e["Attempts"])) for e in rows[:limit]]

    @_on_its_loop
    async def claim_pending_alert(
        self, key: str, owner: str, now: float, until: float
    ) -> tuple[str, tuple[dict[str, Any], str, int] | None]:
        """As SqliteStore.claim_pending_alert, in two requests: the entry, then its claim conditional on its ETag."""
        await self._ready()
        pk, rk = self._inbox_key(key)
        try:
            e = await self._deliveries.get_entity(pk, rk)
        except ResourceNotFoundError:
            return "unknown", None
        if e.get("State") != "pending":
            return str(e.get("State", "done")), None
        if e["ClaimedUntil"] > now:
            return "busy", None
        try:
            await self._deliveries.update_entity(
                {"PartitionKey": pk, "RowKey": rk, "ClaimedBy": owner, "ClaimedUntil": until},
                mode=UpdateMode.MERGE,
                etag=e.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError:
            return "busy", None
        return "claimed", (json.loads(_unchunk("Payload", e)), str(e["Auth"]), int(e["Attempts"]))

    @_on_its_loop
    async def claim_alert(self, key: str, owner: str, now: float, until: float) -> bool:
        pk, rk = self._inbox_key(key)
        e = await self._deliveries.get_entity(pk, rk)
        if e["State"] != "pending" or e["ClaimedUntil"] > now:
            return False
        try:
            await self._deliveries.update_entity(
                {"PartitionKey": pk, "RowKey": rk, "ClaimedBy": owner, "ClaimedUntil": until},
                mode=UpdateMode.MERGE,
                etag=e.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError:
            return False
        return True

    @_on_its_loop
    async def retry_alert(self, key: str, attempts: int, not_before: float | None, error: str) -> None:
        pk, rk = self._inbox_key(key)
        await self._deliveries.update_entity(
            {
                "PartitionKey": pk,
                "RowKey": rk,
                "Attempts": attempts,
                "NotBefore": not_before or 0.0,
                "LastError": error[:500],
                "State": "pending" if not_before is not None else "failed",
                "ClaimedBy": "",
                "ClaimedUntil": 0.0,
            },
            mode=UpdateMode.MERGE,
        )

    @_on_its_loop
    async def next_alert_due(self) -> float | None:
        await self._ready()
        times = [max(float(e["NotBefore"]), float(e["ClaimedUntil"])) async for e in self._inbox_pending()]
        return min(times) if times else None

    @_on_its_loop
    async def alert_state(self, key: str) -> tuple[str, dict[str, Any] | None] | None:
        await self._ready()
        try:
            e = await self._deliveries.get_entity(*self._inbox_key(key))
        except ResourceNotFoundError:
            return None
        outcome = _unchunk("Outcome", e)
        return str(e.get("State", "done")), json.loads(outcome) if outcome else None

    async def alert_outcome(self, key: str) -> dict[str, Any] | None:
        found = await self.alert_state(key)
        return found[1] if found and found[0] == "done" else None

    async def _count_inbox(self, state: str) -> int:
        await self._ready()
        query = self._deliveries.query_entities("State eq @s", parameters={"s": state}, select=["RowKey"])
        return len([e async for e in query])

    def inbox_depth(self) -> int:
        return self._call(self._count_inbox("pending"))

    def failed_alerts(self) -> int:
        return self._call(self._count_inbox("failed"))


class TableUnitOfWork:
    """The writes of one transition, staged; TableStore applies them per partition when the block ends."""

    def __init__(self, store: TableStore) -> None:
        self._store = store
        self.ops: list[Any] = []  # (partition, kind, payload) or an inbox write (a coroutine function)
        self.events: list[AuditEvent] = []
        self.messages = 0
        self.saved: list[tuple[str, PlanState]] = []  # (plan id, state) written, for the lease keeper
        self.finished: list[int] = []  # outbox messages sent or given up: forgotten once committed (else retried)

    def add(self, plan: Plan) -> Plan:
        plan = replace(plan, version=1)
        p = _partition(plan.id)
        self.ops += [(p, "op", ("create", _plan_entity(plan))), (p, "op", ("create", _marker(plan.id, 1, plan.state)))]
        if plan.state in ACTIVE_STATES:
            self.ops.append((p, "op", ("upsert", self._store._lease_entity(plan))))
        self.saved.append((plan.id, plan.state))
        return plan

    def save(self, plan: Plan, expected_version: int) -> Plan:
        saved = replace(plan, version=expected_version + 1)
        _plan_entity(saved)  # too large: refused now, before anything is written
        self.ops.append((_partition(plan.id), "save", (saved, expected_version)))
        self.saved.append((plan.id, saved.state))
        return saved

    def record(self, event: AuditEvent) -> None:
        entity = self._store._event_entity(event, event.plan_id)
        self.ops.append((entity["PartitionKey"], "op", ("create", entity)))
        self.events.append(event)

    def send(self, message: OutboxMessage) -> None:
        seq = self._store._next_ns()
        partition = _partition(message.plan_id) if message.plan_id else OUTBOX
        self.ops.append(
            (
                partition,
                "op",
                (
                    "create",
                    {
                        "PartitionKey": partition,
                        "RowKey": f"outbox-{seq:020d}-{secrets.token_hex(4)}",
                        "Kind": "outbox",
                        "Seq": f"{seq:020d}",
                        "Key": message.key,
                        "MsgKind": message.kind.value,
                        "PlanId": message.plan_id or "",
                        "PlanVersion": message.plan_version,
                        "State": "pending",
                        "Attempts": 0,
                        "NotBefore": 0.0,
                        "ClaimedUntil": 0.0,
                        "ClaimedBy": "",
                        **_chunks("Data", message_data(message).encode(), "a message to Teams"),
                    },
                ),
            )
        )
        self.messages += 1

    def alert_processed(self, key: str, outcome: dict[str, Any]) -> None:
        store, (pk, rk) = self._store, self._store._inbox_key(key)

        async def write() -> None:
            await store._deliveries.update_entity(
                {
                    "PartitionKey": pk,
                    "RowKey": rk,
                    "State": "done",
                    "LastError": "",
                    **_chunks("Outcome", json.dumps(outcome).encode(), "an alert's outcome"),
                },
                mode=UpdateMode.MERGE,
            )

        self.ops.append(write)

    def delivered(self, seq: int) -> None:
        pk, rk = self._store._seqs[seq]
        self.finished.append(seq)
        self.ops.append((pk, "op", ("delete", {"PartitionKey": pk, "RowKey": rk})))

    def coalesce(self, plan_id: str, up_to_version: int) -> None:
        self.ops.append((_partition(plan_id), "coalesce", (plan_id, up_to_version)))

    def name_thread(self, ref: str, thread: Thread) -> None:
        self.ops.append(
            (
                THREADS,
                "op",
                (
                    "upsert",
                    {
                        "PartitionKey": THREADS,
                        "RowKey": hashlib.sha256(ref.encode()).hexdigest(),
                        "Kind": "thread",
                        "Thread": json.dumps(thread_to_dict(thread)),
                    },
                ),
            )
        )

    def dead_letter(self, seq: int, error: str) -> None:
        pk, rk = self._store._seqs[seq]
        self.finished.append(seq)
        self.ops.append(
            (
                pk,
                "op",
                (
                    "update",
                    {"PartitionKey": pk, "RowKey": rk, "State": "dead", "LastError": error[:500], "ClaimedBy": ""},
                    {"mode": UpdateMode.MERGE},
                ),
            )
        )
