"""Universal Actions invoke responses as botbuilder's InvokeResponse.

Shapes: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/sso-adaptive-cards-universal-action

The HTTP status is always 200 once the bot has processed the invoke; the outcome is in the body's
`statusCode`. The body is the AdaptiveCardInvokeResponse model, serialized once by the adapter
(a pre-serialized dict makes CloudAdapter answer 500).
"""

from __future__ import annotations

from botbuilder.core import InvokeResponse
from botbuilder.schema import AdaptiveCardInvokeResponse

from ..conversation.answers import Answer, wire


class UniversalActionResponse(AdaptiveCardInvokeResponse):  # type: ignore[misc]
    """botbuilder types `value` as a dict, but the protocol's `activity.message` value is a string;
    typing it `object` lets msrest serialize either, still once, by the adapter."""

    _attribute_map = {**AdaptiveCardInvokeResponse._attribute_map, "value": {"key": "value", "type": "object"}}


def response(answer: Answer) -> InvokeResponse:
    status_code, type_, value = wire(answer)
    return InvokeResponse(status=200, body=UniversalActionResponse(status_code=status_code, type=type_, value=value))
