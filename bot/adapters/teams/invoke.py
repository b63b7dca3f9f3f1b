"""Universal Actions invoke responses (reference/protocols.md §1.2).

The HTTP status is always 200 once the bot has processed the invoke; the outcome is in the body's
`statusCode`. The body is the AdaptiveCardInvokeResponse model, serialized once by the adapter
(reference/botbuilder-pitfalls.md §1: a pre-serialized dict makes CloudAdapter answer 500).
"""

from __future__ import annotations

from typing import Any

from botbuilder.core import InvokeResponse
from botbuilder.schema import AdaptiveCardInvokeResponse

from ...domain import messages

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
ERROR = "application/vnd.microsoft.error"
LOGIN_REQUEST = "application/vnd.microsoft.activity.loginRequest"
PRECONDITION_FAILED = "application/vnd.microsoft.error.preconditionFailed"
INVALID_AUTH_CODE = "application/vnd.microsoft.error.invalidAuthCode"


class UniversalActionResponse(AdaptiveCardInvokeResponse):  # type: ignore[misc]
    """botbuilder types `value` as a dict, but the protocol's `activity.message` value is a string;
    typing it `object` lets msrest serialize either, still once, by the adapter."""

    _attribute_map = {**AdaptiveCardInvokeResponse._attribute_map, "value": {"key": "value", "type": "object"}}


def _respond(status_code: int, type_: str, value: Any) -> InvokeResponse:
    return InvokeResponse(status=200, body=UniversalActionResponse(status_code=status_code, type=type_, value=value))


def card(content: dict[str, Any]) -> InvokeResponse:
    """Replace the card, for the person who clicked, with `content`."""
    return _respond(200, CARD, content)


def message(text: str) -> InvokeResponse:
    """Show `text` to the person who clicked; the card stays as it is."""
    return _respond(200, MESSAGE, text)


def error(status_code: int, code: str, text: str) -> InvokeResponse:
    return _respond(status_code, ERROR, {"code": code, "message": text})


def login_request(connection_name: str, resource_id: str, resource_uri: str, sign_in_url: str) -> InvokeResponse:
    """401 loginRequest: Teams performs SSO and sends the same invoke again with the token; when SSO fails it
    shows the sign-in button (`sign_in_url`, from the Bot Framework token service) and, once the person has
    signed in, sends the same invoke again with the magic code in `value.state`."""
    return _respond(401, LOGIN_REQUEST, {
        "text": messages.SIGN_IN_PROMPT,
        "connectionName": connection_name,
        "tokenExchangeResource": {"id": resource_id, "uri": resource_uri},
        "buttons": [{"title": "Sign in", "text": "Sign in", "type": "signin", "value": sign_in_url}],
    })


def precondition_failed(text: str) -> InvokeResponse:
    """412: the SSO token could not be used; Teams falls back to a sign-in button."""
    return _respond(412, PRECONDITION_FAILED, {"code": "412", "message": text})


def invalid_auth_code() -> InvokeResponse:
    """401 invalidAuthCode: the magic code in `value.state` did not yield a token; Teams may ask for it again."""
    return _respond(401, INVALID_AUTH_CODE, None)
