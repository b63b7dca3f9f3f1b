"""Approver groups through Microsoft Graph `checkMemberGroups` (transitive), with the agent identity.

An application caller needs the application permissions User.Read.All and GroupMember.Read.All (or
User.Read.All and Group.Read.All, or Directory.Read.All): https://learn.microsoft.com/graph/api/user-checkmembergroups.
Every decision asks Graph afresh; card views may use answers cached for a few minutes. A Graph failure is
never "not a member": it raises DirectoryUnavailable saying what went wrong and what to do, the log names
the permissions needed, and `problem()` reports it to /readyz until a check succeeds again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
from azure.core.exceptions import ClientAuthenticationError

from ...domain.errors import DirectoryUnavailable
from .outbound import OutboundSession

log = logging.getLogger(__name__)
PERMISSIONS = "User.Read.All and GroupMember.Read.All"
ALTERNATIVES = "or User.Read.All and Group.Read.All, or Directory.Read.All"


class GraphDirectory:
    """Directory port over Microsoft Graph."""

    def __init__(
        self, endpoint: str, credential: Any, ca_bundle: str | None = None, ttl: float = 300.0, session: OutboundSession | None = None
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._credential = credential
        self._http = session or OutboundSession(ca_bundle)
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._problem: str | None = None

    def problem(self) -> str | None:
        return self._problem

    async def is_member(self, object_id: str, group_id: str, fresh: bool = True) -> bool:
        key = (object_id, group_id)
        hit = self._cache.get(key)
        if not fresh and hit and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        member = await self._check(object_id, group_id)
        self._problem = None
        self._cache[key] = (time.monotonic(), member)
        return member

    async def _check(self, object_id: str, group_id: str) -> bool:
        try:
            token = await self._credential.get_token(f"{self.endpoint}/.default")
        except ClientAuthenticationError as e:
            raise self._fail(
                f"the agent identity could not get a Microsoft Graph token ({type(e).__name__})",
                "The bot could not sign in to Microsoft Graph to check the approver group. Nothing was changed; "
                "ask your Entra admin to check the bot's identity.",
            ) from None
        try:
            async with self._http.request(
                "POST",
                f"{self.endpoint}/v1.0/users/{object_id}/checkMemberGroups",
                json={"groupIds": [group_id]},
                headers={"Authorization": f"Bearer {token.token}"},
            ) as r:
                if r.status == 404:  # the person is not in this directory: not a member
                    return False
                if r.status == 403:
                    raise self._fail(
                        f"Microsoft Graph answered 403 to checkMemberGroups: the agent identity lacks the application "
                        f"permissions {PERMISSIONS} ({ALTERNATIVES}); grant them with admin consent",
                        "Microsoft Graph refused the bot's check of the approver group (403): its identity needs the "
                        f"application permissions {PERMISSIONS}. Nothing was changed; ask your Entra admin.",
                    )
                r.raise_for_status()
                value = (await r.json()).get("value", [])
        except (TimeoutError, aiohttp.ClientError, ValueError, AttributeError) as e:
            raise self._fail(
                f"Microsoft Graph checkMemberGroups failed ({type(e).__name__})",
                "The bot could not reach Microsoft Graph to check the approver group. Nothing was changed; "
                "try again in a minute, and tell your admin if it keeps happening.",
            ) from None
        return group_id in value

    async def group_members(self, group_id: str, limit: int) -> list[str]:
        """Object ids of up to `limit` users in the group, nested groups included (`GET /groups/{id}/transitiveMembers`,
        which needs GroupMember.Read.All: https://learn.microsoft.com/graph/api/group-list-transitivemembers). One page:
        the caller wants a bounded few (approvers to tell privately). Raises DirectoryUnavailable when Graph cannot
        answer; an empty list for a group it does not know."""
        try:
            token = await self._credential.get_token(f"{self.endpoint}/.default")
            async with self._http.request(
                "GET",
                f"{self.endpoint}/v1.0/groups/{group_id}/transitiveMembers",
                params={"$select": "id", "$top": str(max(1, min(limit, 999)))},
                headers={"Authorization": f"Bearer {token.token}"},
            ) as r:
                if r.status == 404:
                    return []
                r.raise_for_status()
                value = (await r.json()).get("value", [])
        except (ClientAuthenticationError, TimeoutError, aiohttp.ClientError, ValueError, AttributeError) as e:
            raise DirectoryUnavailable(f"Microsoft Graph did not list the approver group's members ({type(e).__name__})") from None
        users = [m["id"] for m in value if isinstance(m, dict) and m.get("@odata.type") == "#microsoft.graph.user" and m.get("id")]
        return users[:limit]

    async def close(self) -> None:
        await self._http.close()

    def _fail(self, problem: str, message: str) -> DirectoryUnavailable:
        self._problem = problem
        log.warning("approver group membership could not be checked: %s", problem)
        return DirectoryUnavailable(message)
