"""Who is speaking, judged by their own account: tenant and role as Teams reports the member, not the chat.

The conversation's tenant says where a chat lives, not who a person is: a guest (B2B) or someone from
another organisation (external access) can post in a home-tenant chat. The bot asks the Bot Connector
for the sender (`GET /v3/conversations/{id}/members/{userId}`, botbuilder's `TeamsInfo.get_member`),
which answers the member's `tenantId`, `aadObjectId` and `userRole` (user, guest or anonymous):
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#get-single-member-details
Answers are kept a few minutes per (conversation, person), in a bounded LRU cache.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.core.teams import TeamsInfo
from botframework.connector.auth import AuthenticationConstants
from botframework.connector.models import ErrorResponseException

from ...domain.errors import Refusal, RefusalCode
from ...domain.plan import Person

log = logging.getLogger(__name__)
MEMBER_TTL = 300.0
MAX_MEMBERS = 2048

NO_WORK_ACCOUNT = "I can only act for people signed in to Microsoft Teams with a work account."
GUESTS_REFUSED = (
    "Guests of this organisation cannot propose or approve plans here. Nothing was done; ask a member "
    "of the organisation (or the bot's administrator, about ALLOW_GUESTS)."
)
NOT_A_MEMBER = (
    "I could not confirm who you are in this conversation, so nothing was done. Try again in a minute; "
    "if it keeps happening, ask the SRE team."
)


@dataclass(frozen=True)
class Member:
    object_id: str
    tenant_id: str
    role: str


def person_of(activity: Any) -> Person | None:
    """Who the activity says sent it (`from.aadObjectId`, the conversation's tenant): a claim, not yet checked."""
    sender = activity.from_property
    oid = getattr(sender, "aad_object_id", None) if sender else None
    if not oid:
        return None
    tenant = (activity.conversation.tenant_id if activity.conversation else None) or (
        (activity.channel_data or {}).get("tenant", {}).get("id")
    )
    return Person(object_id=oid, name=sender.name or oid, tenant_id=tenant or "", teams_id=sender.id)


class People:
    """Turns an authenticated activity into a Person whose tenant and role Teams vouched for, or a Refusal."""

    def __init__(self, check_tenant: Callable[[Person], None], allow_guests: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._check_tenant, self._allow_guests, self._clock = check_tenant, allow_guests, clock
        self._members: OrderedDict[tuple[str, str], tuple[float, Member]] = OrderedDict()

    async def who(self, turn_context: TurnContext) -> Person:
        activity = turn_context.activity
        claimed = person_of(activity)
        if claimed is None:
            raise Refusal(RefusalCode.BAD_REQUEST, NO_WORK_ACCOUNT)
        identity = turn_context.turn_state.get(BotAdapter.BOT_IDENTITY_KEY)
        if getattr(identity, "authentication_type", None) == AuthenticationConstants.ANONYMOUS_AUTH_TYPE:
            # Bot Framework authentication is off (ANONYMOUS_ALLOWED, loopback only): nothing the activity says can
            # be checked, the Connector included; the person is taken as sent
            self._check_tenant(claimed)
            return claimed
        member = await self._member(turn_context, claimed)
        if member.object_id != claimed.object_id:
            log.warning("the Connector's member does not match the activity's aadObjectId; refused")
            raise Refusal(RefusalCode.BAD_REQUEST, NOT_A_MEMBER)
        person = Person(object_id=claimed.object_id, name=claimed.name, tenant_id=member.tenant_id, teams_id=claimed.teams_id)
        self._check_tenant(person)  # the member's own tenant: ALLOWED_TENANTS
        if member.role == "anonymous" or (member.role == "guest" and not self._allow_guests):
            raise Refusal(RefusalCode.GUEST, GUESTS_REFUSED if member.role == "guest" else NO_WORK_ACCOUNT)
        return person

    async def _member(self, turn_context: TurnContext, claimed: Person) -> Member:
        conversation = str(turn_context.activity.conversation.id).split(";messageid=")[0]
        key = (conversation, claimed.teams_id or claimed.object_id)
        now = self._clock()
        cached = self._members.get(key)
        if cached is not None and now - cached[0] < MEMBER_TTL:
            self._members.move_to_end(key)
            return cached[1]
        try:
            account = await TeamsInfo.get_member(turn_context, claimed.teams_id or claimed.object_id)
        except ErrorResponseException as e:
            status = e.response.status_code if e.response is not None else None
            log.warning("the Connector did not confirm the sender as a member (HTTP %s); refused", status)
            raise Refusal(RefusalCode.BAD_REQUEST, NOT_A_MEMBER) from None
        except Exception:
            log.warning("the Connector could not be asked who the sender is; refused", exc_info=True)
            raise Refusal(RefusalCode.BAD_REQUEST, NOT_A_MEMBER) from None
        member = Member(
            str(getattr(account, "aad_object_id", "") or ""),
            str(getattr(account, "tenant_id", "") or ""),
            str(getattr(account, "user_role", "") or "user").lower(),
        )
        self._members[key] = (now, member)
        self._members.move_to_end(key)
        while len(self._members) > MAX_MEMBERS:
            self._members.popitem(last=False)
        return member
