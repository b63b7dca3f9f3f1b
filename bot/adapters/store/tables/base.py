"""What every part of the Table Storage store shares: its table clients, its event loop, its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Self, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from ..common import Listener, Subscribers
from ..leases import DEFAULT_LEASE_SECONDS, LeaseKeeper, instance_id
from .entities import NO_PLAN, PLAN_ROW, partition
from .transport import pooled

T = TypeVar("T")
ROWS_REMEMBERED = 4096  # plans whose last-read row (version, state, ETag) is kept


class StoreClosed(RuntimeError):
    """The store was closed; no call reaches Azure any more."""


class TableBase(Subscribers):
    """The table clients (plans, deliveries, conversations), created on first use, and the loop they belong to."""

    renew_lease: Callable[[str, str, float], Awaitable[bool]]  # the heartbeat the keeper calls, in leases.py

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
        self._listeners: list[Listener] = []
        self._seqs: dict[int, tuple[str, str]] = {}  # outbox seq -> (PartitionKey, RowKey), as the worker read them
        # plan id -> (version, state, ETag) of its row as last read: a save of that version needs no read of its own
        self._rows: OrderedDict[str, tuple[int, str, str]] = OrderedDict()

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str,
        prefix: str = "sreconsent",
        owner: str = "",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        **client: Any,
    ) -> Self:
        """`client`: azure-core options, e.g. connection_verify (the CA bundle, SSL_CERT_FILE)."""
        return cls(TableServiceClient.from_connection_string(connection_string, **pooled(client)), prefix, owner, lease_seconds)

    @classmethod
    def from_account_url(
        cls,
        account_url: str,
        credential: Any,
        prefix: str = "sreconsent",
        owner: str = "",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        **client: Any,
    ) -> Self:
        """`credential`: an azure-core async TokenCredential (the agent's managed identity in production)."""
        return cls(TableServiceClient(endpoint=account_url, credential=credential, **pooled(client)), prefix, owner, lease_seconds)

    async def _ready(self) -> None:
        if self._closed:
            raise StoreClosed("the plan store is closed")
        self._loop = self._loop or asyncio.get_running_loop()
        if not self._created:
            for name in (self.plans_table, self.deliveries_table, self.conversations_table):
                with contextlib.suppress(ResourceExistsError):  # created by the deployment or another instance
                    await self._service.create_table(name)
            self._created = True

    async def _close_clients(self) -> None:
        self._closed = True
        await self._plans.close()
        await self._deliveries.close()
        await self._conversations.close()
        await self._service.close()

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

    @staticmethod
    async def _merge_if_unchanged(table: TableClient, e: TableEntity, **values: Any) -> bool:
        """Merge `values` into the entity `e` if nobody wrote it since it was read (If-Match its ETag)."""
        try:
            await table.update_entity(
                {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"], **values},
                mode=UpdateMode.MERGE,
                etag=e.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError:
            return False  # written meanwhile: another instance claimed or moved it first
        return True

    def _next_ns(self) -> int:
        """Nanoseconds since the epoch, strictly increasing within this process (the audit order)."""
        with self._clock_lock:
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            return self._last_ns

    async def _plan_row(self, plan_id: str) -> TableEntity | None:
        await self._ready()
        if not plan_id:
            return None
        try:
            entity = await self._plans.get_entity(partition(plan_id), PLAN_ROW)
        except ResourceNotFoundError:
            return None
        if entity.get("PlanId") != plan_id:
            return None  # a digest partition is the id's only
        self._rows[plan_id] = (int(entity["Version"]), str(entity["State"]), str(entity.metadata["etag"]))
        self._rows.move_to_end(plan_id)
        while len(self._rows) > ROWS_REMEMBERED:
            self._rows.popitem(last=False)
        return entity

    async def _row_of(self, plan_id: str, version: int) -> tuple[str, str] | None:
        """(state, ETag) of version `version` of the plan's row: as read last when that is the version asked for (a
        click's plan was just read), else read now. None when the stored version is another. The ETag condition of
        the write refuses it if the row changed since it was read, whoever changed it."""
        known = self._rows.get(plan_id)
        if known is None or known[0] != version:
            entity = await self._plan_row(plan_id)
            known = (int(entity["Version"]), str(entity["State"]), str(entity.metadata["etag"])) if entity is not None else None
        return (known[1], known[2]) if known is not None and known[0] == version else None
