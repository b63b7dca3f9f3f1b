"""The alert inbox on an Azure Storage Queue (STORE=azure-tables): several instances share the work.

`/api/incidents` stores the alert with its delivery key in the store (as the store inbox does: the key makes a
repeat delivery recognisable, and `/api/incidents/status` reads it), then puts a message naming that key on the
queue and answers 202. Any instance's worker receives it, processes the alert and deletes the message:

- **Claim check**: the message carries only the inbox key, `{"key": ...}`; the alert itself stays in the store
  (https://learn.microsoft.com/azure/architecture/patterns/claim-check). A message is far below the 64 KiB limit
  whatever the alert's size (https://learn.microsoft.com/rest/api/storageservices/put-message), and neither the
  queue nor its poison queue holds the alert's contents, let alone a secret.
- **At least once**: a received message is invisible for `visibility_timeout` seconds, sized to the work (see
  INBOX_VISIBILITY_TIMEOUT_SECONDS); not deleted by then (the instance died, processing failed), it is received
  again (https://learn.microsoft.com/rest/api/storageservices/get-messages). A failure makes it visible again after
  an exponential back-off (Update Message, https://learn.microsoft.com/rest/api/storageservices/update-message).
- **Idempotent**: an entry no longer pending (processed, or given up) is not processed again, its copy is deleted;
  copies received at the same time are kept apart by the store's claim on the entry; the unit of work that
  processes the alert marks the entry done with its outcome.
- **Poison messages** are parked, after `max_dequeue_count` receives, in the queue `<name>-poison`: Azure
  Functions' convention (queue trigger, "Poison messages": maxDequeueCount, 5 by default,
  https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages).
  The store entry is marked failed (what /api/incidents/status reports), an `alert_parked` audit event names the
  key, and /readyz and /metrics count the poison queue.
- **Base64 bodies**: the SDK sends text as is unless told otherwise; the bot encodes messages in Base64 because
  that is what Azure Functions' queue trigger expects by default ("By default messages received from the queue
  are expected to be Base64-encoded", QueueTriggerAttribute,
  https://learn.microsoft.com/dotnet/api/microsoft.azure.webjobs.queuetriggerattribute), so a Function an operator
  attaches to the poison queue, and the tools that follow the same default, read them without extra settings. The
  cost (a third more bytes on a message of a few dozen) does not matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueMessage, TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from ..domain.audit import AuditEvent
from ..ports import Clock
from ..services.deps import SYSTEM
from .azure.transport import pooled
from .inbox import InboxUnavailable, Process, StoredAlerts, backoff
from .worker import POLL

log = logging.getLogger(__name__)
MAX_BATCH = 32  # messages one Get Messages call may return (numofmessages, 1 to 32)
PARKED_REFRESH = 5.0  # seconds between counts of the poison queue while nothing was parked
WEEK = 7 * 24 * 3600  # the longest visibility timeout the service accepts


def poison_name(queue: str) -> str:
    return f"{queue}-poison"


def clients(
    name: str, *, connection_string: str = "", account_url: str = "", credential: Any = None, **options: Any
) -> tuple[QueueClient, QueueClient]:
    """The inbox queue and its poison queue: by connection string, else by URL with a token credential (the
    agent identity: its managed identity in Azure, with the Storage Queue Data Contributor role)."""
    codec: dict[str, Any] = {
        "message_encode_policy": TextBase64EncodePolicy(),
        "message_decode_policy": TextBase64DecodePolicy(),
        **options,
    }
    # each client its own transport (a client closes its transport with it), each with one TLS context (transport.py)
    if connection_string:
        return (
            QueueClient.from_connection_string(connection_string, name, **pooled(codec)),
            QueueClient.from_connection_string(connection_string, poison_name(name), **pooled(codec)),
        )
    return (
        QueueClient(account_url, name, credential=credential, **pooled(codec)),
        QueueClient(account_url, poison_name(name), credential=credential, **pooled(codec)),
    )


class QueueInbox(StoredAlerts):
    name = "queue inbox worker"

    def __init__(
        self,
        store: Any,
        queue: QueueClient,
        poison: QueueClient,
        process: Process,
        clock: Clock,
        *,
        visibility_timeout: int,
        max_dequeue_count: int = 5,
        max_backoff: float = 300.0,
        concurrency: int = 8,
        owner: str = "",
    ) -> None:
        super().__init__(concurrency)
        self._store, self._queue, self._poison, self._process, self._clock = store, queue, poison, process, clock
        self._visibility = max(1, min(WEEK, int(visibility_timeout)))
        self._max_dequeue, self._max_backoff = max_dequeue_count, max_backoff
        self._owner = owner or secrets.token_hex(8)
        self._created = False
        self._parked = 0
        self._parked_at = 0.0  # when the poison queue was last counted
        self.processed = 0  # alerts this instance processed
        self.repeats = 0  # copies received for an entry already processed or given up (deleted unprocessed)

    # -- the inbox port ----------------------------------------------------------------------------
    async def accept(self, key: str, payload: dict[str, Any], auth: str) -> str:
        """Store the alert, then queue its key. A repeat of a delivery not processed yet is queued again: its first
        message may be what was lost (the process died between storing and queueing); copies are harmless."""
        stored: str = await self._store.accept_alert(key, payload, auth)
        if stored == "done":
            return stored
        try:
            await self._ensure_queues()
            await self._queue.send_message(json.dumps({"key": key}))
        except Exception as e:
            log.warning("alert %s stored but not queued (%s): the sender is asked to retry", key, type(e).__name__)
            raise InboxUnavailable(f"the alert queue {self._queue.queue_name} could not be reached") from e
        self.wake()
        return stored

    def parked(self) -> int:
        return self._parked

    def where_parked(self) -> str:
        return f"the queue {self._poison.queue_name}"

    async def stop(self) -> None:
        await super().stop()
        for client in (self._queue, self._poison):
            with contextlib.suppress(Exception):
                await client.close()

    # -- the loop ----------------------------------------------------------------------------------
    async def _ensure_queues(self) -> None:
        """Create both queues if missing (infra/main.bicep creates them too; tests and local runs rely on this)."""
        if self._created:
            return
        for client in (self._queue, self._poison):
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()
        self._created = True

    async def _look(self) -> float:
        await self._ensure_queues()
        if time.monotonic() - self._parked_at >= PARKED_REFRESH:
            await self._count_parked()
        wanted = min(MAX_BATCH, self.free)
        if wanted <= 0:
            return POLL
        received, at = 0, time.time()
        pages = self._queue.receive_messages(messages_per_page=wanted, max_messages=wanted, visibility_timeout=self._visibility)
        async for message in pages:
            received += 1
            self._spawn(message.id, self._handle(message, at), f"queued alert {message.id}")
        return 0.0 if received == wanted else POLL  # a full batch: more are probably waiting

    async def _count_parked(self) -> None:
        properties = await self._poison.get_queue_properties()
        self._parked = int(properties.approximate_message_count or 0)
        self._parked_at = time.monotonic()

    async def _handle(self, message: QueueMessage, received_at: float) -> None:
        try:
            key = str(json.loads(message.content)["key"])
        except (ValueError, KeyError, TypeError):
            await self._park(message, "?", 'not an inbox message (expected {"key": ...})')
            return
        if (message.dequeue_count or 0) > self._max_dequeue:  # received that often and never completed: instances died on it
            await self._park(message, key, f"received {message.dequeue_count} times without being completed")
            return
        # the claim lapses when the message would be visible again: then a copy may be processed, not before
        state, entry = await self._store.claim_pending_alert(key, self._owner, time.time(), received_at + self._visibility)
        if state == "unknown":  # never dropped silently: parked, shown
            await self._park(message, key, "no delivery with this key in the store (a queue shared by two stores?)")
            return
        if state == "busy":
            return  # another copy is being processed; this one comes back after the visibility timeout
        if entry is None:  # processed (or given up) already: this copy is a repeat
            self.repeats += 1
            await self._queue.delete_message(message)
            return
        payload, auth, attempts = entry
        try:
            await self._process(key, payload, auth)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            await self._failed(message, key, attempts + 1, type(e).__name__)
            return
        self.processed += 1
        await self._queue.delete_message(message)  # if this fails, the copy that comes back is a repeat

    async def _failed(self, message: QueueMessage, key: str, attempts: int, cause: str) -> None:
        if (message.dequeue_count or 0) >= self._max_dequeue:
            await self._park(message, key, cause, attempts)
            return
        delay = backoff(attempts, self._max_backoff)
        log.warning("alert %s could not be processed (%s); attempt %d in %.1fs", key, cause, attempts + 1, delay)
        await self._store.retry_alert(key, attempts, time.time() + delay, cause)  # releases the claim
        # visible again after the back-off rather than after the whole visibility timeout
        await self._queue.update_message(message, visibility_timeout=max(1, math.ceil(delay)))

    async def _park(self, message: QueueMessage, key: str, cause: str, attempts: int | None = None) -> None:
        """Move the message to the poison queue (content unchanged), mark the entry failed, audit it."""
        log.error("alert %s parked in %s: %s", key, self._poison.queue_name, cause)
        await self._poison.send_message(message.content)
        await self._queue.delete_message(message)
        await self._count_parked()  # counted before the entry says failed: whoever sees that sees it parked
        async with self._store.unit_of_work() as uow:
            uow.record(
                AuditEvent(
                    self._clock.now(),
                    None,
                    SYSTEM.object_id,
                    SYSTEM.name,
                    "alert_parked",
                    detail={"key": key, "queue": self._poison.queue_name, "error": cause, "receives": str(message.dequeue_count)},
                )
            )
        if key != "?" and await self._store.alert_state(key) is not None:  # an entry to mark failed
            await self._store.retry_alert(key, attempts if attempts is not None else message.dequeue_count, None, cause)
