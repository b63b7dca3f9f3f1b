"""`GET /api/plans/{id}` as a long-poll: an ETag per version, `If-None-Match` and `Prefer: wait=N`.

The answer carries `ETag` (it changes with every change of what the answer says). With `If-None-Match` naming the current
tag, the request is conditional (RFC 9110 13.1.2): 304 when nothing changed. With `Prefer: wait=N` as well (RFC 7240
4.3), the bot holds the request until the plan changes (200 with the new representation) or N seconds pass (304); N
above MAX_WAIT is taken as MAX_WAIT, and `Preference-Applied: wait=<N used>` says so on either answer. A tag that
is no longer current gets the 200 at once. The change is seen whichever instance commits it (plan_watch.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from ...domain.plan import Plan
from ...domain.plan_view import etag, plan_summary

MAX_WAIT = 120  # seconds a request may be held (RFC 7240 leaves the bound to the server)
_WAIT = re.compile(r'^\s*wait\s*=\s*"?(\d{1,9})"?\s*$', re.IGNORECASE)

Changed = Callable[[str, int, float], Awaitable[Plan | None]]


def preferred_wait(values: Iterable[str]) -> int | None:
    """Seconds of the `wait` preference among `Prefer` header values (RFC 7240: comma-separated preferences, each
    `token[=value]` with optional `;` parameters), capped at MAX_WAIT; None when there is none (or it is not a
    number: a preference the server does not understand is ignored)."""
    for value in values:
        for preference in value.split(","):
            m = _WAIT.match(preference.split(";")[0])
            if m:
                return min(int(m[1]), MAX_WAIT)
    return None


def none_match(value: str | None) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compared weakly, as RFC 9110 13.1.2 says), or {"*"}."""
    if not value:
        return set()
    return {t.strip().removeprefix("W/") for t in value.split(",") if t.strip()}


async def answer(request: web.Request, plan: Plan, changed: Changed) -> web.Response:
    """The plan's representation, or 304, after holding the request as its headers ask."""
    tags = none_match(request.headers.get("If-None-Match"))
    wait = preferred_wait(request.headers.getall("Prefer", [])) if tags else None
    applied = {"Preference-Applied": f"wait={wait}"} if wait is not None else {}
    current = etag(plan)
    if current not in tags and "*" not in tags:
        return representation(plan, applied)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (wait or 0)
    while (remaining := deadline - loop.time()) > 0:
        newer = await changed(plan.id, plan.version, remaining)
        if newer is None:
            break
        plan = newer
        if etag(plan) != current:  # something the agent reads changed (not just the card's activity id)
            return representation(plan, applied)
    return web.Response(status=304, headers={"ETag": current, "Cache-Control": "no-cache", **applied})


def representation(plan: Plan, headers: dict[str, Any] | None = None) -> web.Response:
    return web.json_response(plan_summary(plan), headers={"ETag": etag(plan), "Cache-Control": "no-cache", **(headers or {})})
