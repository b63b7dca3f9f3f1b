"""Approver groups through Microsoft Graph `checkMemberGroups` (transitive), with the agent identity.

Needs the application permission GroupMember.Read.All. Answers are cached for a few minutes so a
burst of clicks costs one Graph call; a Graph failure means "not a member" (refuse, never allow).
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


class GraphDirectory:
    """Directory port over Microsoft Graph."""

    def __init__(self, endpoint: str, credential: Any, ca_bundle: str | None = None, ttl: float = 300.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._credential = credential
        self._ssl: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    async def is_member(self, object_id: str, group_id: str) -> bool:
        key = (object_id, group_id)
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        try:
            token = await self._credential.get_token(f"{self.endpoint}/.default")
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, session.post(
                f"{self.endpoint}/v1.0/users/{object_id}/checkMemberGroups", json={"groupIds": [group_id]},
                headers={"Authorization": f"Bearer {token.token}"}, ssl=self._ssl,
            ) as r:
                if r.status == 404:
                    member = False
                else:
                    r.raise_for_status()
                    member = group_id in (await r.json()).get("value", [])
        except Exception as e:
            log.warning("group membership of %s in %s could not be checked (%s); treating as not a member",
                        object_id, group_id, type(e).__name__)
            return False
        self._cache[key] = (time.monotonic(), member)
        return member
