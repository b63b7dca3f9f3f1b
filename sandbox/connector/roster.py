"""The people of the Connector simulator: conversation members as Teams reports them, and the app's installations.

Three member calls, each answering as Teams and Microsoft's own Teams emulator (the Agents Playground,
npm @microsoft/m365agentsplayground 0.2.28, `dist/index.js`) do:

- `GET /v3/conversations/{id}/members`, the non-paged roster, names the Entra object id **`objectId`** (the
  Playground's `listMembers` maps users with `"objectId"`; Teams does too: microsoft/teams.net#525, "AadObjectId is
  null for Api.Conversations.Members.GetAsync"). Teams' docs say not to use it: "it's unreliable in large teams and
  must not be used" (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#fetch-the-roster-or-user-profile).
- `GET /v3/conversations/{id}/pagedmembers?pageSize=&continuationToken=` names it `aadObjectId` (the Playground's
  `listPagedMembers`; "objectId is changed to aadObjectId to match what is called in the Activity object",
  https://learn.microsoft.com/microsoftteams/platform/resources/team-chat-member-api-changes). "Page size less than
  50, are treated as 50, and greater than 500, are capped at 500" (get-teams-context); without a page size the
  Playground serves 50. A `continuationToken` comes with every page but the last.
- `GET /v3/conversations/{id}/members/{member}` names it `aadObjectId` (the Playground's `fetchMember`), and finds
  the member by Teams user id, Entra object id or UPN (get-teams-context#get-single-member-details).

A conversation's roster is the home tenant's people and its guests, unless a test or `driver` set one
(`PUT /sandbox/conversations/{id}/members`: named people of the world and any number of other members, such as a
group chat of 600). The app's installations per person are kept here too, as Teams keeps them
(`/sandbox/installations`): a person's 1:1 chat with the bot exists once the app is installed for them.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ..http_errors import json_error
from ..teams_models import PERSONAL_CHAT_PREFIX, personal_chat_id
from ..world import User
from .core import ConnectorCore
from .limits import thread_of
from .records import bad_request, not_found

MIN_PAGE, MAX_PAGE, DEFAULT_PAGE = 50, 500, 50
# "Number of people in a private chat: 250" (https://learn.microsoft.com/microsoftteams/limits-specifications-teams);
# a team, and so a channel's roster, has up to 25,000 members (the same page)
MAX_CHAT_PEOPLE, MAX_TEAM_MEMBERS = 250, 25_000


class RosterRoutes(ConnectorCore):
    """`GET /v3/conversations/{id}/members[/{member}]`, `.../pagedmembers`, the sandbox's rosters and installations."""

    # -- the app installed for people (personal scope) ------------------------------------------------
    @staticmethod
    def personal_chat_id(user: User) -> str:
        """The id of a user's 1:1 chat with the bot (the driver's personal conversation uses the same id)."""
        return personal_chat_id(user)

    def install(self, user: User) -> str:
        """The app installed for `user` in personal scope: their 1:1 chat with the bot exists from now on."""
        self.installed[user.object_id] = self.personal_chat_id(user)
        return self.installed[user.object_id]

    def uninstall(self, user: User) -> None:
        self.installed.pop(user.object_id, None)

    def _user_named(self, name_or_id: str) -> User | None:
        return self.world.users.get(name_or_id) or next(
            (u for u in self.world.users.values() if name_or_id in (u.object_id, u.teams_id)), None
        )

    async def _install(self, request: web.Request) -> web.Response:
        user = self._user_named(str((await request.json()).get("user", "")))
        if user is None:
            return not_found("No such user in the sandbox world.")
        return web.json_response({"conversationId": self.install(user)}, status=201)

    async def _uninstall(self, request: web.Request) -> web.Response:
        user = self._user_named(unquote(request.match_info["user"]))
        if user is None:
            return not_found("No such user in the sandbox world.")
        self.uninstall(user)
        return web.Response(status=204)

    def _personal_member(self, conversation_id: str) -> User | None:
        """The person of a 1:1 chat with the bot (its only member besides the bot), or None for other conversations."""
        prefix = PERSONAL_CHAT_PREFIX
        return self.world.users.get(conversation_id[len(prefix) :]) if conversation_id.startswith(prefix) else None

    # -- rosters ---------------------------------------------------------------------------------------
    def set_roster(self, conversation_id: str, people: list[User], others: int = 0) -> list[User]:
        """The members of a chat or channel from now on: `others` people of the home tenant with no role in the
        sandbox, then `people`, in that order (the order the Connector lists them in). Raises ValueError past Teams'
        limits: 250 people in a group chat (`19:...@thread.v2`, meetings' chats aside), 25,000 in a team."""
        limit = MAX_CHAT_PEOPLE if _is_group_chat(conversation_id) else MAX_TEAM_MEMBERS
        if others + len(people) > limit:
            raise ValueError(f"Teams allows at most {limit} members in this conversation.")
        home = self.world.home_tenant_id
        domain = next((u.domain for u in self.world.users.values() if u.tenant_id == home), "contoso.example")
        crowd = [User(f"member-{i:05d}", f"Member {i:05d}", home, domain) for i in range(1, others + 1)]
        self.rosters[thread_of(conversation_id)] = crowd + people
        return self.rosters[thread_of(conversation_id)]

    def members_of(self, conversation_id: str) -> list[User]:
        """Who is in a conversation: a 1:1 chat's one person (the bot is not listed among the members,
        get-teams-context#fetch-the-roster-or-user-profile), a roster set for it, else the home tenant's people
        and its guests."""
        person = self._personal_member(conversation_id)
        if person is not None:
            return [person]
        roster = self.rosters.get(thread_of(conversation_id))
        if roster is not None:
            return roster
        home = self.world.home_tenant_id
        return [u for u in self.world.users.values() if home in (u.tenant_id, u.guest_in)]

    def _as_member(self, u: User, object_id_key: str = "aadObjectId") -> dict[str, Any]:
        """A TeamsChannelAccount as Teams reports it: `tenantId` is the tenant the account belongs to (a B2B
        guest's account lives in the inviting tenant) and `userRole` is user, guest or anonymous.
        https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#get-single-member-details
        """
        return {
            "id": u.teams_id,
            "name": u.display_name,
            object_id_key: u.object_id,
            "givenName": u.display_name.split()[0],
            "userPrincipalName": u.upn,
            "email": u.upn,
            "tenantId": u.guest_in or u.tenant_id,
            "userRole": "guest" if u.guest_in else "user",
        }

    async def _put_roster(self, request: web.Request) -> web.Response:
        body = await request.json()
        names = [str(n) for n in body.get("people") or []]
        people = [self._user_named(n) for n in names]
        if None in people:
            return not_found(f"No such user in the sandbox world: {', '.join(n for n, p in zip(names, people, strict=True) if p is None)}.")
        others = body.get("others", 0)
        if not isinstance(others, int) or others < 0:
            return bad_request("others must be a whole number.")
        try:
            roster = self.set_roster(unquote(request.match_info["conversation"]), [p for p in people if p is not None], others)
        except ValueError as e:
            return bad_request(str(e))
        return web.json_response({"count": len(roster)})

    async def _get_roster(self, request: web.Request) -> web.Response:
        """The sandbox's view of a roster (no token needed): what a Teams client knows of its conversation."""
        members = self.members_of(unquote(request.match_info["conversation"]))
        return web.json_response({"count": len(members), "members": [self._as_member(u) for u in members]})

    # -- the Connector's member calls ------------------------------------------------------------------
    async def _members(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request, "members", None):
            return refused
        members = self.members_of(unquote(request.match_info["conversation"]))
        return web.json_response([self._as_member(u, "objectId") for u in members])  # `objectId`: see the module's doc

    async def _paged_members(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request, "paged_members", None):
            return refused
        conversation = thread_of(unquote(request.match_info["conversation"]))
        raw_size = request.query.get("pageSize")
        if raw_size is not None and not raw_size.strip().isdigit():
            return bad_request("Invalid pagesize provided")  # the Playground's answer to a page size not a number
        size = min(max(int(raw_size), MIN_PAGE), MAX_PAGE) if raw_size is not None else DEFAULT_PAGE
        start = _offset(request.query.get("continuationToken"), conversation)
        if start is None:  # the Playground answers a token it did not issue 403 BadArgument
            return json_error(403, "BadArgument", "Failed to decrypt members continuationToken")
        members = self.members_of(conversation)
        page: dict[str, Any] = {"members": [self._as_member(u) for u in members[start : start + size]]}
        if start + size < len(members):
            page["continuationToken"] = _token(conversation, start + size)
        return web.json_response(page)

    async def _member(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request, "member", None):
            return refused
        conversation, wanted = unquote(request.match_info["conversation"]), unquote(request.match_info["member"])
        # in a conversation whose roster was set, only its members; elsewhere anyone who can post is a member: the
        # sandbox answers for every person of the world (people of other tenants, in chats with them, included)
        people = self.rosters.get(thread_of(conversation)) or list(self.world.users.values())
        for u in people:
            if wanted.lower() in (u.teams_id.lower(), u.object_id.lower(), u.upn.lower()):
                return web.json_response(self._as_member(u))
        return not_found("The member was not found in this conversation.")


def _is_group_chat(conversation_id: str) -> bool:
    """A group chat's id: 19:...@thread.v2 (a meeting's chat, 19:meeting_..., has its meeting's own limits)."""
    return conversation_id.endswith("@thread.v2") and not conversation_id.startswith("19:meeting_")


def _token(conversation: str, offset: int) -> str:
    """An opaque continuation token (Teams' are opaque strings; this one carries where the next page starts)."""
    return base64.urlsafe_b64encode(json.dumps({"c": conversation, "o": offset}).encode()).decode()


def _offset(token: str | None, conversation: str) -> int | None:
    """Where the page a token asks for starts: 0 without one; None for a token this conversation never issued."""
    if token is None:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(decoded, dict) or decoded.get("c") != conversation or not isinstance(decoded.get("o"), int):
        return None
    return int(decoded["o"]) if decoded["o"] > 0 else None
