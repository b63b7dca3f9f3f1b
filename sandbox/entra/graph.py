"""The Microsoft Graph subset the Entra simulator serves to application callers: group membership.

The Graph audience is the simulator's own URL (Microsoft Graph's resource, sandbox/world.py GRAPH_RESOURCE).
"""

from __future__ import annotations

import jwt
from aiohttp import web

from ..http_errors import json_error
from .core import EntraCore

# checkMemberGroups for an application caller needs one of these sets of application permissions
# (https://learn.microsoft.com/graph/api/user-checkmembergroups, "Permissions" table).
CHECK_MEMBER_GROUPS_PERMISSIONS = (
    frozenset({"User.Read.All", "GroupMember.Read.All"}),
    frozenset({"User.Read.All", "Group.Read.All"}),
    frozenset({"Directory.Read.All"}),
)
# listing a group's transitive members as an application needs one of these application permissions
# (https://learn.microsoft.com/graph/api/group-list-transitivemembers, "Permissions" table)
LIST_MEMBERS_PERMISSIONS = (frozenset({"GroupMember.Read.All"}), frozenset({"Group.Read.All"}), frozenset({"Directory.Read.All"}))


def _not_found(object_id: str) -> web.Response:
    return json_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
    )


class GraphRoutes(EntraCore):
    """`POST /v1.0/users/{id}/checkMemberGroups` and `GET /v1.0/groups/{id}/transitiveMembers`."""

    def _refused(self, request: web.Request, permissions: tuple[frozenset[str], ...]) -> web.Response | None:
        """401 InvalidAuthenticationToken for a token Graph does not accept, 403 Authorization_RequestDenied
        without one of the sets of application permissions `permissions`; None lets the call through."""
        header = request.headers.get("Authorization", "")
        try:
            claims = self.keys.verify(header.removeprefix("Bearer "), audience=[self.base_url, self.base_url + "/"])
        except jwt.InvalidTokenError:
            return json_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        held = set(claims.get("roles") or [])
        if not any(needed <= held for needed in permissions):
            return json_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        return None

    async def _check_member_groups(self, request: web.Request) -> web.Response:
        """Microsoft Graph `POST /v1.0/users/{id}/checkMemberGroups` for an application caller.

        Needs User.Read.All with GroupMember.Read.All or Group.Read.All, or Directory.Read.All; otherwise
        403 Authorization_RequestDenied (https://learn.microsoft.com/graph/api/user-checkmembergroups).
        """
        if refused := self._refused(request, CHECK_MEMBER_GROUPS_PERMISSIONS):
            return refused
        user = self.world.user_by_oid(request.match_info["user"])
        if user is None:
            return _not_found(request.match_info["user"])
        wanted = (await request.json()).get("groupIds") or []
        mine = {g.object_id for g in self.world.groups if user.name in g.members}
        return web.json_response({"value": [g for g in wanted if g in mine]})

    async def _transitive_members(self, request: web.Request) -> web.Response:
        """Microsoft Graph `GET /v1.0/groups/{id}/transitiveMembers` for an application caller: the group's members,
        nested ones included, each with its `@odata.type`; `$top` pages (1 to 999, default 100) with an
        `@odata.nextLink` when more remain; 404 Request_ResourceNotFound for an unknown group, 403 without one of
        GroupMember.Read.All, Group.Read.All or Directory.Read.All
        (https://learn.microsoft.com/graph/api/group-list-transitivemembers)."""
        if refused := self._refused(request, LIST_MEMBERS_PERMISSIONS):
            return refused
        group = next((g for g in self.world.groups if g.object_id == request.match_info["group"]), None)
        if group is None:
            return _not_found(request.match_info["group"])
        try:
            top = min(max(int(request.query.get("$top", "100")), 1), 999)
            skip = int(request.query.get("$skiptoken", "0"))
        except ValueError:
            return json_error(400, "Request_BadRequest", "Invalid value for $top or $skiptoken.")
        users = sorted((self.world.user(n) for n in group.members), key=lambda u: u.object_id)
        page = [
            {"@odata.type": "#microsoft.graph.user", "id": u.object_id, "displayName": u.display_name} for u in users[skip : skip + top]
        ]
        body: dict[str, object] = {"value": page}
        if skip + top < len(users):
            body["@odata.nextLink"] = f"{self.base_url}{request.path}?$top={top}&$skiptoken={skip + top}"
        return web.json_response(body)
