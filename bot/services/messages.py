"""The messages a transition sends to Teams, as outbox entries (written in the transition's unit of work)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.plan import Plan, Thread, ThreadKind
from ..domain.plan_view import plan_event
from ..ports import MessageKind, OutboxMessage, pending_ref


def conversation_key(thread: Thread) -> str:
    """Messages to one conversation (or one channel thread) are sent in the order they were written."""
    return f"{thread.service_url}|{thread.conversation_id}"


def post_card(plan: Plan, reply_to: str | None = None) -> list[OutboxMessage]:
    if plan.thread is None:
        return []
    return [OutboxMessage(MessageKind.POST_CARD, conversation_key(plan.thread), plan.id, plan.version, reply_to=reply_to)]


def update_card(plan: Plan) -> list[OutboxMessage]:
    if plan.thread is None:
        return []
    return [OutboxMessage(MessageKind.UPDATE_CARD, conversation_key(plan.thread), plan.id, plan.version)]


def reply(plan: Plan, text: str) -> list[OutboxMessage]:
    """A message in the plan's thread (the thread as stored when it is sent: the card may open it)."""
    if plan.thread is None:
        return []
    return [OutboxMessage(MessageKind.TEXT, conversation_key(plan.thread), plan.id, plan.version, text=text)]


def say(thread: Thread, text: str, reply_to: str | None = None, plan_id: str | None = None) -> OutboxMessage:
    """A message in `thread`; with `plan_id`, about that plan (in the thread its plan has when it is sent), and stored
    with the plan, so a store that commits plan by plan writes it in the plan's own transaction."""
    return OutboxMessage(MessageKind.TEXT, conversation_key(thread), plan_id, thread=thread, text=text, reply_to=reply_to)


def open_thread(channel: Thread, card: dict[str, Any], plan_id: str | None = None) -> tuple[OutboxMessage, Thread]:
    """A new thread in `channel` starting with `card`, and the pending thread later messages (and plans) can aim at;
    the outbox worker replaces it with the real thread once Teams has created it. `plan_id`: the plan the thread is
    opened for: the message, and the thread's name once created, are kept with that plan (see `pending_ref`)."""
    ref = pending_ref(plan_id)
    pending = Thread(channel.service_url, ref, channel.tenant_id, ThreadKind.CHANNEL)
    message = OutboxMessage(MessageKind.OPEN_THREAD, conversation_key(pending), plan_id, thread=channel, card=card, thread_ref=ref)
    return message, pending


def note(plan: Plan, to: Thread, text: str, reply_to: str | None = None) -> OutboxMessage:
    """A message about `plan` to `to` (the requester's chat, an approver's 1:1 chat), sent after the plan's card: it is
    ordered with the card's conversation, and CARD_LINK in `text` becomes the link to the card as posted."""
    key = conversation_key(plan.thread) if plan.thread is not None else conversation_key(to)
    return OutboxMessage(MessageKind.NOTE, key, plan.id, plan.version, thread=to, text=text, reply_to=reply_to)


def callback(plan: Plan, plans_url: str, at: datetime, notice: str | None = None) -> list[OutboxMessage]:
    """The signed event telling the plan's agent it reached its current state (or `notice`, e.g. `expiring`), when the
    agent asked for callbacks. Ordered per plan (its own key: a slow agent never holds up Teams), built now so every
    retry sends the same event."""
    if plan.callback is None:
        return []
    event = plan_event(plan, f"{plans_url}/{plan.id}", at, notice)
    payload = {"url": plan.callback.url, "appId": plan.callback.app_id, "event": event}
    return [OutboxMessage(MessageKind.CALLBACK, f"callback|{plan.id}", plan.id, plan.version, payload=payload)]
