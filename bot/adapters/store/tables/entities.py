"""Table entities to and from the domain: keys, the rows of a plan's partition, and the chunking of large values.

Limits (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model):
64 KiB per property, 1 MiB per entity, 255 properties; a transaction holds at most 100 operations and
4 MiB (https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions). Plans
and audit details are split into 64,000-byte chunks, up to 14 (896,000 bytes); anything larger is refused
with `StoreLimitExceeded` before any write.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from azure.core.exceptions import HttpResponseError

from ....domain.audit import AuditEvent
from ....domain.plan import Plan, PlanState, Thread
from ....ports import OutboxMessage, pending_plan
from ..codec import message_data, plan_from_dict, plan_to_dict, thread_to_dict
from ..leases import ACTIVE_STATES

CHUNK_BYTES = 64_000  # a binary property holds at most 64 KiB
MAX_CHUNKS = 14  # 896,000 bytes: room left for the other properties under the 1 MiB entity limit
MAX_EVENTS_PER_SAVE = 98  # a transaction holds 100 operations: the plan row, its version marker, the events
NO_PLAN = "!no-plan"  # cannot be a plan's partition: `partition` never yields "!"
OUTBOX = "!outbox"  # messages to Teams that name no plan
THREADS = "!threads"  # channel threads the outbox created, by the name messages knew them by (before thread_home)
INSTANCES = "!instances"  # the bot's instances alive, one row each (adapters/instances.py)
PLAN_ROW = "plan"
LEASE_ROW = "lease"
SIMPLE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
STATES_PER_QUERY = 10  # a filter holds at most 15 comparisons


class StoreLimitExceeded(ValueError):
    """A plan or audit event too large for one Table Storage entity; nothing was written."""


def partition(plan_id: str) -> str:
    """The plan's PartitionKey: the id itself when it is plain; otherwise a digest, as keys may not hold
    / \\ # ? or control characters and are at most 1 KiB (ids come from URLs too)."""
    return plan_id if SIMPLE_ID.match(plan_id) else "~" + hashlib.sha256(plan_id.encode()).hexdigest()


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def chunks(prefix: str, data: bytes, what: str) -> dict[str, bytes]:
    if len(data) > CHUNK_BYTES * MAX_CHUNKS:
        raise StoreLimitExceeded(
            f"{what} takes {len(data):,} bytes once stored; Azure Table Storage holds at most "
            f"{CHUNK_BYTES * MAX_CHUNKS:,} bytes per entity: nothing was written. Shorten it (or split the plan)."
        )
    return {f"{prefix}{i:02d}": data[o : o + CHUNK_BYTES] for i, o in enumerate(range(0, max(len(data), 1), CHUNK_BYTES))}


def unchunk(prefix: str, entity: dict[str, Any]) -> bytes:
    parts: list[bytes] = []
    while (part := entity.get(f"{prefix}{len(parts):02d}")) is not None:
        parts.append(bytes(part))
    return b"".join(parts)


def marker(plan_id: str, version: int, state: PlanState) -> dict[str, Any]:
    return {
        "PartitionKey": partition(plan_id),
        "RowKey": f"version-{version:010d}",
        "Kind": "version",
        "PlanId": plan_id,
        "Version": version,
        "State": state.value,
        "At": datetime.now().astimezone().isoformat(),
    }


def plan_entity(plan: Plan) -> dict[str, Any]:
    data = json.dumps(plan_to_dict(plan), ensure_ascii=False).encode()
    return {
        "PartitionKey": partition(plan.id),
        "RowKey": PLAN_ROW,
        "Kind": "plan",
        "PlanId": plan.id,
        "State": plan.state.value,
        "Version": plan.version,
        "ExpiresAt": plan.expires_at.isoformat(),
        "IncidentId": plan.incident_id or "",
        "Size": len(data),
        **chunks("Data", data, f"plan {plan.id}"),
    }


def plan_from(entity: dict[str, Any]) -> Plan:
    return plan_from_dict(json.loads(unchunk("Data", entity)))


def event_entity(event: AuditEvent, plan_id: str | None, seq: int) -> dict[str, Any]:
    """An audit event's row; `seq` (the writing time in nanoseconds) orders the RowKeys, a random part keeps apart
    two instances writing in the same nanosecond."""
    detail = json.dumps(event.detail, sort_keys=True, ensure_ascii=False).encode()
    return {
        "PartitionKey": partition(plan_id) if plan_id else NO_PLAN,
        "RowKey": f"audit-{seq:020d}-{secrets.token_hex(4)}",
        "Kind": "audit",
        "At": event.at.isoformat(),
        "PlanId": plan_id or "",
        "Actor": event.actor,
        "ActorName": event.actor_name,
        "Event": event.event,
        "FromState": event.from_state or "",
        "ToState": event.to_state or "",
        **chunks("Detail", detail, f"audit event {event.event} of plan {plan_id}"),
    }


def event_from(entity: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        at=datetime.fromisoformat(entity["At"]),
        plan_id=entity.get("PlanId") or None,
        actor=entity["Actor"],
        actor_name=entity["ActorName"],
        event=entity["Event"],
        from_state=entity.get("FromState") or None,
        to_state=entity.get("ToState") or None,
        detail=json.loads(unchunk("Detail", entity)),
        seq=int(entity["RowKey"].split("-")[1]),
    )


def check_events(events: Sequence[AuditEvent]) -> Sequence[AuditEvent]:
    if len(events) > MAX_EVENTS_PER_SAVE:
        raise StoreLimitExceeded(
            f"{len(events)} audit events in one save; a transaction holds at most {MAX_EVENTS_PER_SAVE}: nothing was written"
        )
    return events


def lease_entity(plan: Plan, owner: str, until: float) -> dict[str, Any]:
    """The plan's lease as its new state makes it: held by `owner` in APPROVED or an executing state, ended (Until 0)
    otherwise."""
    held = plan.state in ACTIVE_STATES
    return {
        "PartitionKey": partition(plan.id),
        "RowKey": LEASE_ROW,
        "Kind": "lease",
        "PlanId": plan.id,
        "Owner": owner if held else "",
        "Until": until if held else 0.0,
    }


def message_entity(message: OutboxMessage, seq: int) -> dict[str, Any]:
    """A message to Teams, pending, in its plan's partition (or OUTBOX when it names no plan)."""
    key = partition(message.plan_id) if message.plan_id else OUTBOX
    return {
        "PartitionKey": key,
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
        "Ref": message.thread_ref or "",  # OPEN_THREAD: the pending thread it opens (a failed one is found by it)
        **chunks("Data", message_data(message).encode(), "a message to Teams"),
    }


def thread_home(ref: str) -> str:
    """The partition that keeps a pending thread's name once created: its plan's (where the message opening it is, so
    the name and the message's removal are one transaction), else OUTBOX."""
    plan_id = pending_plan(ref)
    return partition(plan_id) if plan_id else OUTBOX


def thread_key(ref: str) -> tuple[str, str]:
    return thread_home(ref), f"thread-{digest(ref)}"


def thread_entity(ref: str, thread: Thread) -> dict[str, Any]:
    pk, rk = thread_key(ref)
    return {"PartitionKey": pk, "RowKey": rk, "Kind": "thread", "Thread": json.dumps(thread_to_dict(thread))}


def conflict(error: HttpResponseError) -> bool:
    """412: the plan row's ETag changed; 409: the version marker exists. Either way another writer won."""
    return error.status_code in (409, 412)
