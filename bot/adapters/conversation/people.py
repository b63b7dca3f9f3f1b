"""Who is speaking, judged by their own account: tenant and role as Teams reports the member, not the chat.

The conversation's tenant says where a chat lives, not who a person is: a guest (B2B) or someone from
another organisation (external access) can post in a home-tenant chat. The bot asks the Bot Connector
for the sender (`GET /v3/conversations/{id}/members/{userId}`), which answers the member's `tenantId`,
`aadObjectId` and `userRole` (user, guest or anonymous):
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#get-single-member-details
Answers are kept a few minutes per (conversation, person), in a bounded LRU cache. A read waits for its place in
Teams' limits for member reads in that conversation and for the app (`ReadPace`: the outbox's pace, shared by the
instances), rather than being refused: a storm of new people in one channel is read at the pace Teams allows.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from ...domain.errors import Refusal, RefusalCode
from ...domain.plan import Person
from .roster import ReadPace, unpaced
from .turn import Incoming, Member, MemberNotConfirmed, Turn

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


def person_of(incoming: Incoming) -> Person | None:
    """Who the activity says sent it (`from.aadObjectId`, the conversation's tenant): a claim, not yet checked."""
    sender = incoming.sender
    if sender is None or not sender.aad_object_id:
        return None
    oid = sender.aad_object_id
    tenant = incoming.conversation_tenant_id or incoming.data_tenant_id
    return Person(object_id=oid, name=sender.name or oid, tenant_id=tenant, teams_id=sender.id)


class People:
    """Turns an authenticated activity into a Person whose tenant and role Teams vouched for, or a Refusal."""

    def __init__(
        self,
        check_tenant: Callable[[Person], None],
        allow_guests: bool,
        clock: Callable[[], float] = time.monotonic,
        pace: ReadPace | None = None,
    ) -> None:
        self._check_tenant, self._allow_guests, self._clock = check_tenant, allow_guests, clock
        self._pace: ReadPace = pace or unpaced
        self._members: OrderedDict[tuple[str, str], tuple[float, Member]] = OrderedDict()

    async def who(self, turn: Turn) -> Person:
        claimed = person_of(turn.incoming)
        if claimed is None:
            raise Refusal(RefusalCode.BAD_REQUEST, NO_WORK_ACCOUNT)
        if turn.anonymous:
            # Bot Framework authentication is off (ANONYMOUS_ALLOWED, loopback only): nothing the activity says can
            # be checked, the Connector included; the person is taken as sent
            self._check_tenant(claimed)
            return claimed
        member = await self._member(turn, claimed)
        if member.object_id != claimed.object_id:
            log.warning("the Connector's member does not match the activity's aadObjectId; refused")
            raise Refusal(RefusalCode.BAD_REQUEST, NOT_A_MEMBER)
        person = Person(object_id=claimed.object_id, name=claimed.name, tenant_id=member.tenant_id, teams_id=claimed.teams_id)
        self._check_tenant(person)  # the member's own tenant: ALLOWED_TENANTS
        if member.role == "anonymous" or (member.role == "guest" and not self._allow_guests):
            raise Refusal(RefusalCode.GUEST, GUESTS_REFUSED if member.role == "guest" else NO_WORK_ACCOUNT)
        return person

    async def _member(self, turn: Turn, claimed: Person) -> Member:
        user_id = claimed.teams_id or claimed.object_id
        key = (turn.incoming.conversation_root, user_id)
        now = self._clock()
        cached = self._members.get(key)
        if cached is not None and now - cached[0] < MEMBER_TTL:
            self._members.move_to_end(key)
            return cached[1]
        try:
            member = await self._pace(turn.incoming.conversation_root, lambda: turn.members.member(user_id))
        except MemberNotConfirmed as e:
            log.warning("the Connector did not confirm the sender as a member (HTTP %s); refused", e.status)
            raise Refusal(RefusalCode.BAD_REQUEST, NOT_A_MEMBER) from None
        except Exception:
            log.warning("the Connector could not be asked who the sender is; refused", exc_info=True)
            raise Refusal(RefusalCode.BAD_REQUEST, NOT_A_MEMBER) from None
        self._members[key] = (now, member)
        self._members.move_to_end(key)
        while len(self._members) > MAX_MEMBERS:
            self._members.popitem(last=False)
        return member
