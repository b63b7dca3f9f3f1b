"""Universal Actions invoke responses as botbuilder's InvokeResponse.

Shapes: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/sso-adaptive-cards-universal-action

The HTTP status is always 200 once the bot has processed the invoke; the outcome is in the body's
`statusCode`. The body is the AdaptiveCardInvokeResponse model (a pre-serialized dict makes CloudAdapter answer 500);
the endpoint (sdk.py) writes it as JSON itself, since the model holds plain JSON already: msrest's serializer walked
the whole card, value by value (a tenth of an Approve click).
"""

from __future__ import annotations

from typing import Any

from botbuilder.core import InvokeResponse
from botbuilder.schema import AdaptiveCardInvokeResponse

from ..conversation.answers import Answer, wire


class UniversalActionResponse(AdaptiveCardInvokeResponse):  # type: ignore[misc]
    """botbuilder types `value` as a dict, but the protocol's `activity.message` value is a string;
    typing it `object` lets msrest serialize either, still once, by the adapter."""

    _attribute_map = {**AdaptiveCardInvokeResponse._attribute_map, "value": {"key": "value", "type": "object"}}

    def wire(self) -> dict[str, Any]:
        """The body as JSON: the answer's own values (conversation/answers.py `wire`), already plain."""
        body: dict[str, Any] = {"statusCode": self.status_code, "type": self.type}
        if self.value is not None:
            body["value"] = self.value
        return body


def response(answer: Answer) -> InvokeResponse:
    status_code, type_, value = wire(answer)
    return InvokeResponse(status=200, body=UniversalActionResponse(status_code=status_code, type=type_, value=value))
