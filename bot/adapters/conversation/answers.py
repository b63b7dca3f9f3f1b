"""Answers to a card click (Universal Actions invoke responses, protocols §1.2), as SDK-neutral variants.

Each adapter turns an Answer into its SDK's invoke response: HTTP 200, with `wire(answer)` as the
body's `statusCode`, `type` and `value`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
ERROR = "application/vnd.microsoft.error"
LOGIN_REQUEST = "application/vnd.microsoft.activity.loginRequest"
PRECONDITION_FAILED = "application/vnd.microsoft.error.preconditionFailed"
INVALID_AUTH_CODE = "application/vnd.microsoft.error.invalidAuthCode"


@dataclass(frozen=True)
class CardAnswer:
    """Replace the card, for the person who clicked, with `content`."""

    content: dict[str, Any]


@dataclass(frozen=True)
class MessageAnswer:
    """Show `text` to the person who clicked; the card stays as it is."""

    text: str


@dataclass(frozen=True)
class ErrorAnswer:
    status_code: int
    code: str
    text: str


@dataclass(frozen=True)
class LoginRequest:
    """401 loginRequest: Teams performs SSO and sends the same invoke again with the token; when SSO fails it
    shows the sign-in button (`sign_in_url`, from the Bot Framework token service) and, once the person has
    signed in, sends the same invoke again with the magic code in `value.state`."""

    connection_name: str
    resource_id: str
    resource_uri: str
    sign_in_url: str


@dataclass(frozen=True)
class PreconditionFailed:
    """412: the SSO token could not be used; Teams falls back to a sign-in button."""

    text: str


@dataclass(frozen=True)
class InvalidAuthCode:
    """401 invalidAuthCode: the magic code in `value.state` did not yield a token; Teams may ask for it again."""


Answer = CardAnswer | MessageAnswer | ErrorAnswer | LoginRequest | PreconditionFailed | InvalidAuthCode


def wire(answer: Answer) -> tuple[int, str, Any]:
    """(statusCode, type, value) of the AdaptiveCardInvokeResponse body."""
    match answer:
        case CardAnswer(content):
            return 200, CARD, content
        case MessageAnswer(text):
            return 200, MESSAGE, text
        case ErrorAnswer(status, code, text):
            return status, ERROR, {"code": code, "message": text}
        case LoginRequest(connection, resource_id, resource_uri, link):
            return (
                401,
                LOGIN_REQUEST,
                {
                    "text": "Sign in to lend your Azure rights for this plan",
                    "connectionName": connection,
                    "tokenExchangeResource": {"id": resource_id, "uri": resource_uri},
                    "buttons": [{"title": "Sign in", "text": "Sign in", "type": "signin", "value": link}],
                },
            )
        case PreconditionFailed(text):
            return 412, PRECONDITION_FAILED, {"code": "412", "message": text}
        case InvalidAuthCode():
            return 401, INVALID_AUTH_CODE, None
    raise AssertionError(f"unknown answer {answer!r}")
