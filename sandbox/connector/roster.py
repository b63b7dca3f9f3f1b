"""The people of the Connector simulator: conversation members as Teams reports them, and the app's installations.

The app's installations per person are kept here, as Teams keeps them (`/sandbox/installations`): a person's 1:1
chat with the bot exists once the app is installed for them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ..teams_models import PERSONAL_CHAT_PREFIX, personal_chat_id
from ..world import User
from .core import ConnectorCore
from .records import not_found


class RosterRoutes(ConnectorCore):
    """`GET /v3/conversations/{id}/members[/{member}]` and the sandbox's installations."""

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

    # -- members ---------------------------------------------------------------------------------------
    def _as_member(self, u: User) -> dict[str, Any]:
        """A TeamsChannelAccount as Teams reports it: `tenantId` is the tenant the account belongs to (a B2B
        guest's account lives in the inviting tenant) and `userRole` is user, guest or anonymous.
        https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#get-single-member-details
        """
        return {
            "id": u.teams_id,
            "name": u.display_name,
            "aadObjectId": u.object_id,
            "givenName": u.display_name.split()[0],
            "userPrincipalName": u.upn,
            "email": u.upn,
            "tenantId": u.guest_in or u.tenant_id,
            "userRole": "guest" if u.guest_in else "user",
        }

    def _member_list(self) -> list[dict[str, Any]]:
        """The home tenant's people and its guests (the sandbox keeps no roster per conversation)."""
        home = self.world.home_tenant_id
        return [self._as_member(u) for u in self.world.users.values() if home in (u.tenant_id, u.guest_in)]

    async def _members(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request, "members", None):
            return refused
        # a 1:1 chat's roster is its one person (the bot is not listed among the members)
        # https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#fetch-the-roster-or-user-profile
        person = self._personal_member(unquote(request.match_info["conversation"]))
        if person is not None:
            return web.json_response([self._as_member(person)])
        return web.json_response(self._member_list())

    async def _member(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request, "member", None):
            return refused
        wanted = unquote(request.match_info["member"])
        # anyone who can post in a conversation is one of its members: the sandbox answers for every person of the
        # world (people of other tenants, in chats with them, included), as Teams reports them
        for u in self.world.users.values():
            m = self._as_member(u)
            if wanted in (m["id"], m["aadObjectId"]):
                return web.json_response(m)
        return not_found("The member was not found in this conversation.")
