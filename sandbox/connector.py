"""A loopback Bot Connector (the Teams side of `serviceUrl`).

Serves the REST subset of https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference:
create conversation (a new channel thread, or a 1:1 chat with
someone the app is installed for), send, reply, update, delete, and members (a personal chat lists its one person).
The app's installations per person are kept here, as Teams keeps them (`/sandbox/installations`).
Every call is recorded so tests can assert what the bot
posted; 429s with `Retry-After` can be injected. Every /v3 call must carry the bot's Entra token for
`https://api.botframework.com` (sandbox/bot_token.py); without one it is answered 401 and not performed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from .bot_token import BotTokenCheck
from .driver import ShowsActivity
from .world import User, World


@dataclass(frozen=True)
class ConnectorCall:
    """One REST call the bot made."""

    operation: str  # create_conversation | send | reply | update | delete | members | member
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any] | None
    caller: str  # client id of the bot app whose token authorized the call (never the token)
    at: float


@dataclass
class PostedActivity(ShowsActivity):
    """An activity as Teams currently shows it (updates replace it in place), with every version it has had.

    Teams shows only the latest version of an updated message; `versions` keeps each one, oldest first, so a
    card's history can be followed (`GET /sandbox/activities`, `driver watch`)."""

    id: str
    conversation_id: str
    activity: dict[str, Any]
    reply_to_id: str | None = None
    deleted: bool = False
    versions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ConnectorSimulator:
    world: World
    auth: BotTokenCheck
    clock: Callable[[], float] = time.time
    base_url: str = ""
    calls: list[ConnectorCall] = field(default_factory=list)
    activities: dict[str, PostedActivity] = field(default_factory=dict)
    throttle_remaining: int = 0
    refused: int = 0  # calls answered 401 for want of a valid bot token
    throttle_retry_after: int = 1
    throttle_every: int = 0  # 0: off; n: every n-th write (create, send, reply, update) is answered 429
    writes_seen: int = 0
    outage: bool = False  # every call answered 502 Bad Gateway (the service is down)
    outage_refused: int = 0
    changed: asyncio.Condition | None = None
    installed: dict[str, str] = field(default_factory=dict)  # object id -> their 1:1 chat: the app installed for them
    _next_id: int = 1_700_000_000_000

    def app(self) -> web.Application:
        app = web.Application()
        app.on_startup.append(self._on_startup)
        r = app.router
        r.add_post("/v3/conversations", self._create_conversation)
        r.add_post("/v3/conversations/{conversation}/activities", self._send)
        r.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        r.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        r.add_delete("/v3/conversations/{conversation}/activities/{activity}", self._delete)
        r.add_get("/v3/conversations/{conversation}/members", self._members)
        r.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        r.add_get("/sandbox/activities", self._list_activities)
        r.add_post("/sandbox/throttle", self._throttle)
        r.add_post("/sandbox/installations", self._install)
        r.add_delete("/sandbox/installations/{user}", self._uninstall)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        self.changed = asyncio.Condition()

    # -- controls -----------------------------------------------------------------------------
    def throttle(self, count: int, retry_after: int = 1) -> None:
        """Answer the next `count` calls with 429 Too Many Requests."""
        self.throttle_remaining, self.throttle_retry_after = count, retry_after

    def throttle_writes(self, every: int, retry_after: int = 1) -> None:
        """Answer every `every`-th write with 429 for as long as it is set (0 stops): a bot over its per-thread
        or per-bot limits for a whole scenario. Teams answers 429 Too Many Requests when a bot exceeds its limits
        (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit)."""
        self.throttle_every, self.throttle_retry_after, self.writes_seen = every, retry_after, 0

    def set_outage(self, down: bool) -> None:
        """While down, every call is answered 502 Bad Gateway and nothing is performed: one of the transient errors
        the rate-limit guide tells bots to retry with back-off (412, 429, 502, 504;
        https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit)."""
        self.outage = down

    def in_conversation(self, conversation_id: str) -> list[PostedActivity]:
        """Activities currently shown in a conversation (or a channel thread), oldest first."""
        return [a for a in self.activities.values() if a.conversation_id == conversation_id and not a.deleted]

    def record_incoming(self, conversation_id: str, activity: dict[str, Any]) -> None:
        """Register an activity the *user* posted (so threads and replies line up)."""
        self.activities[activity["id"]] = PostedActivity(activity["id"], conversation_id, activity, versions=[activity])

    # -- the app installed for people (personal scope) ------------------------------------------------
    @staticmethod
    def personal_chat_id(user: User) -> str:
        """The id of a user's 1:1 chat with the bot (the driver's personal conversation uses the same id)."""
        return f"a:sandbox-personal-{user.name}"

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
            return _not_found("No such user in the sandbox world.")
        return web.json_response({"conversationId": self.install(user)}, status=201)

    async def _uninstall(self, request: web.Request) -> web.Response:
        user = self._user_named(unquote(request.match_info["user"]))
        if user is None:
            return _not_found("No such user in the sandbox world.")
        self.uninstall(user)
        return web.Response(status=204)

    def _personal_member(self, conversation_id: str) -> User | None:
        """The person of a 1:1 chat with the bot (its only member besides the bot), or None for other conversations."""
        prefix = "a:sandbox-personal-"
        return self.world.users.get(conversation_id[len(prefix) :]) if conversation_id.startswith(prefix) else None

    # -- handlers -----------------------------------------------------------------------------
    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    async def _guard(self, request: web.Request, operation: str, body: dict[str, Any] | None) -> web.Response | None:
        conversation = unquote(request.match_info.get("conversation", ""))
        activity = request.match_info.get("activity")
        caller = self.auth.caller(request.headers.get("Authorization"))
        if isinstance(caller, str):
            self.refused += 1
            # the Connector's answer to a call without a valid bot token (nothing is recorded or performed)
            return web.json_response(
                {"error": {"code": "Unauthorized", "message": f"Authorization has been denied for this request: {caller}."}}, status=401
            )
        if self.outage:
            self.outage_refused += 1
            return web.json_response({"error": {"code": "ServiceError", "message": "Bad Gateway."}}, status=502)
        self.calls.append(
            ConnectorCall(operation, conversation, unquote(activity) if activity else None, body, caller.client_id, self.clock())
        )
        if self.throttle_every and operation in ("create_conversation", "send", "reply", "update"):
            self.writes_seen += 1
            if self.writes_seen % self.throttle_every == 0:
                return web.json_response(
                    {"error": {"code": "TooManyRequests", "message": "Too many requests. Retry later."}},
                    status=429,
                    headers={"Retry-After": str(self.throttle_retry_after)},
                )
        if self.throttle_remaining > 0:
            self.throttle_remaining -= 1
            return web.json_response(
                {"error": {"code": "TooManyRequests", "message": "Too many requests. Retry later."}},
                status=429,
                headers={"Retry-After": str(self.throttle_retry_after)},
            )
        return None

    async def _notify(self) -> None:
        if self.changed is not None:
            async with self.changed:
                self.changed.notify_all()

    async def _create_conversation(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := await self._guard(request, "create_conversation", body):
            return refused
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        first = body.get("activity")
        if channel:
            root_id = self._new_id()
            conversation_id = f"{channel};messageid={root_id}"
            if first:
                self._store(conversation_id, root_id, first, None)
            await self._notify()
            return web.json_response(_created(conversation_id, root_id if first else None), status=201)
        members = body.get("members") or []
        if not members:
            return _bad_request("Conversation parameters must name a channel or at least one member.")
        # A 1:1 chat with a user (members=[the user], the tenant): Teams creates it, or answers the existing one, only
        # when the app is installed for that user; otherwise the call is refused with 403 Forbidden
        # (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages: "for a
        # user to receive proactive messages, install the app for the user"). The member may be named by Teams id
        # (29:...) or Entra object id.
        user = self._user_named(str(members[0].get("id", ""))) if len(members) == 1 and not body.get("isGroup") else None
        if user is not None:
            if user.object_id not in self.installed:
                return web.json_response(
                    {"error": {"code": "Forbidden", "message": "The bot is not installed for this user (BotNotInConversationRoster)."}},
                    status=403,
                )
            conversation_id = self.installed[user.object_id]
        else:
            conversation_id = f"a:sandbox-{members[0].get('id', 'unknown')}"
        activity_id = None
        if first:
            activity_id = self._new_id()
            self._store(conversation_id, activity_id, first, None)
        await self._notify()
        return web.json_response(_created(conversation_id, activity_id), status=201)

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := await self._guard(request, "send", body):
            return refused
        return await self._post(unquote(request.match_info["conversation"]), body, body.get("replyToId"))

    async def _reply(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := await self._guard(request, "reply", body):
            return refused
        return await self._post(unquote(request.match_info["conversation"]), body, unquote(request.match_info["activity"]))

    async def _post(self, conversation_id: str, body: dict[str, Any], reply_to: str | None) -> web.Response:
        if body.get("type") not in ("message", "typing", "event"):
            return _bad_request(f"Unsupported activity type '{body.get('type')}'.")
        activity_id = self._new_id()
        if body.get("type") == "message":
            self._store(conversation_id, activity_id, body, reply_to)
        await self._notify()
        return web.json_response({"id": activity_id}, status=201)

    def _store(self, conversation_id: str, activity_id: str, body: dict[str, Any], reply_to: str | None) -> None:
        self.activities[activity_id] = PostedActivity(
            activity_id, conversation_id, {**body, "id": activity_id}, reply_to, versions=[{**body, "id": activity_id}]
        )

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := await self._guard(request, "update", body):
            return refused
        activity_id = unquote(request.match_info["activity"])
        posted = self.activities.get(activity_id)
        if posted is None or posted.deleted:
            return _not_found(f"Activity '{activity_id}' was not found.")
        posted.activity = {**body, "id": activity_id}
        posted.versions.append(posted.activity)
        await self._notify()
        return web.json_response({"id": activity_id})

    async def _delete(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request, "delete", None):
            return refused
        posted = self.activities.get(unquote(request.match_info["activity"]))
        if posted is None:
            return _not_found("Activity was not found.")
        posted.deleted = True
        await self._notify()
        return web.Response(status=200)

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
        return _not_found("The member was not found in this conversation.")

    async def _list_activities(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "id": a.id,
                    "conversationId": a.conversation_id,
                    "replyToId": a.reply_to_id,
                    "activity": a.activity,
                    "versions": a.versions,
                }  # every version, oldest first: a card's history can be followed
                for a in self.activities.values()
                if not a.deleted
            ]
        )

    async def _throttle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.throttle(int(body.get("count", 1)), int(body.get("retryAfter", 1)))
        return web.json_response({"count": self.throttle_remaining})


def _created(conversation_id: str, activity_id: str | None) -> dict[str, Any]:
    """A ConversationResourceResponse: `activityId` only when a first activity was sent with the conversation (the
    Agents SDK's model refuses a null one)
    https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#conversationresourceresponse-object"""
    return {"id": conversation_id, **({"activityId": activity_id} if activity_id else {})}


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": {"code": "BadArgument", "message": message}}, status=400)


def _not_found(message: str) -> web.Response:
    return web.json_response({"error": {"code": "NotFound", "message": message}}, status=404)
