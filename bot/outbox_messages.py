"""The messages the outbox holds (to Teams, or to an agent's callback), part of the ports: bot/ports.py re-exports
every name here. Kept apart so that ports.py stays one screenful of interfaces."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .domain.plan import Thread


class MessageKind(str, Enum):
    """What an outbox message asks of Teams (stored as these words)."""

    POST_CARD = "post_card"  # post the plan's card (rendered from the plan as stored when it is sent)
    UPDATE_CARD = "update_card"  # update the plan's card in place (the newest state only: updates coalesce)
    TEXT = "text"  # a message in a thread (a plan's result, an answer to a command, an incident notice)
    OPEN_THREAD = "open_thread"  # a new channel thread whose first message is `card`
    NOTE = "note"  # a message about a plan to `thread` (not the plan's): CARD_LINK in `text` becomes a link to its card
    CALLBACK = "callback"  # a signed event about a plan to its agent's callback URL (`payload`), not to Teams


CARD_LINK = "{card_link}"  # NOTE: replaced, when sent, by the deep link to the plan's card as posted
PERSONAL_CHAT = "personal-chat-with:"  # conversation id of a 1:1 chat to create first (then the user's object id)


PENDING_THREAD = "pending-thread:"  # conversation id of a thread an OPEN_THREAD message has not created yet


def pending_ref(plan_id: str | None = None) -> str:
    """A new pending thread's name: PENDING_THREAD, a random part, and the plan it is opened for (if any), so a store
    that keeps each plan's writes together can find the thread's name with that plan (`pending_plan`)."""
    token = secrets.token_hex(8)
    return PENDING_THREAD + (f"{token}:{plan_id}" if plan_id else token)


def pending_plan(ref: str) -> str | None:
    """The plan a pending thread was opened for (None: opened for no plan, or named before plans were recorded)."""
    _, _, plan_id = ref.removeprefix(PENDING_THREAD).partition(":")
    return plan_id or None


@dataclass(frozen=True)
class OutboxMessage:
    """A message to Teams (or, CALLBACK, to an agent), written in the unit of work of the change that caused it and
    sent later, in order per `key`.

    Plan messages (`plan_id` set) are aimed at the plan's thread as stored when they are sent; others at `thread`.
    A thread whose conversation id starts with PENDING_THREAD is the one the OPEN_THREAD message `thread_ref` creates.
    """

    kind: MessageKind
    key: str  # ordering: the conversation (or pending thread) it goes to
    plan_id: str | None = None
    plan_version: int = 0  # the plan's version when it was written (card updates at or below a sent version coalesce)
    thread: Thread | None = None
    text: str | None = None
    card: dict[str, Any] | None = field(default=None, compare=False)
    reply_to: str | None = None  # the activity this message answers (a chat command)
    thread_ref: str | None = None  # OPEN_THREAD: the name its pending thread goes by
    seq: int = 0  # set by the store: the order of writing
    attempts: int = 0
    payload: dict[str, Any] | None = field(default=None, compare=False)  # CALLBACK: where to, and the event sent


@dataclass(frozen=True)
class ThreadOpening:
    """The OPEN_THREAD message of a pending thread, as the outbox holds it until the thread is created."""

    message: OutboxMessage
    failed: str | None = None  # why it was given up (a dead letter: the thread will never be created); None: waiting
