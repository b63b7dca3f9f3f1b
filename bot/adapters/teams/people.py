"""The member lookup over botbuilder: `TeamsInfo.get_member` (the Connector's single-member call).

https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#get-single-member-details
"""

from __future__ import annotations

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botframework.connector.models import ErrorResponseException

from ..conversation.notifier import read
from ..conversation.roster import object_id_of
from ..conversation.turn import Member, MemberNotConfirmed


class ConnectorMembers:
    """MemberLookup for one turn."""

    def __init__(self, turn_context: TurnContext) -> None:
        self._turn_context = turn_context

    async def member(self, user_id: str) -> Member:
        try:  # Teams answers 429 in a busy channel (14 member reads a second per thread): waited out, then asked again
            account = await read(lambda: TeamsInfo.get_member(self._turn_context, user_id))
        except ErrorResponseException as e:
            raise MemberNotConfirmed(e.response.status_code if e.response is not None else None) from None
        return Member(
            object_id_of(getattr(account, "aad_object_id", None), getattr(account, "additional_properties", None)),
            str(getattr(account, "tenant_id", "") or ""),
            str(getattr(account, "user_role", "") or "user").lower(),
        )
