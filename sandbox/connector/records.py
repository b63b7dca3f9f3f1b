"""What the Connector simulator keeps and answers: the calls the bot made, the activities Teams shows, error bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..http_errors import json_error
from ..teams_models import ShowsActivity


@dataclass(frozen=True)
class ConnectorCall:
    """One REST call the bot made."""

    operation: str  # create_conversation | send | reply | update | delete | members | paged_members | member
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any] | None
    caller: str  # client id of the bot app whose token authorized the call (never the token)
    at: float


@dataclass
class PostedActivity(ShowsActivity):
    """An activity as Teams currently shows it (updates replace it in place), with every version it has had.

    Teams shows only the latest version of an updated message; `versions` keeps each one, oldest first, so a
    card's history can be followed (`GET /sandbox/activities`, `driver watch`)."""

    id: str
    conversation_id: str
    activity: dict[str, Any]
    reply_to_id: str | None = None
    deleted: bool = False
    versions: list[dict[str, Any]] = field(default_factory=list)


def created(conversation_id: str, activity_id: str | None) -> dict[str, Any]:
    """A ConversationResourceResponse: `activityId` only when a first activity was sent with the conversation (the
    Agents SDK's model refuses a null one)
    https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#conversationresourceresponse-object"""
    return {"id": conversation_id, **({"activityId": activity_id} if activity_id else {})}


def bad_request(message: str) -> web.Response:
    return json_error(400, "BadArgument", message)


def not_found(message: str) -> web.Response:
    return json_error(404, "NotFound", message)


def too_many_requests(retry_after: int) -> web.Response:
    """429 with `Retry-After`: Teams' answer to a bot over its limits
    (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit)."""
    return json_error(429, "TooManyRequests", "Too many requests. Retry later.", {"Retry-After": str(retry_after)})
