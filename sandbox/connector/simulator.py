"""The Connector simulator's aiohttp application: conversations and the activities the bot posts in them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ..http_errors import json_error
from .records import PostedActivity, bad_request, created, not_found
from .roster import RosterRoutes


class ConnectorSimulator(RosterRoutes):
    """`/v3/conversations`: create, send, reply, update, delete and members (paged, non-paged, one); plus the sandbox's
    own controls."""

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
        r.add_get("/v3/conversations/{conversation}/pagedmembers", self._paged_members)
        r.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        r.add_get("/sandbox/activities", self._list_activities)
        r.add_post("/sandbox/throttle", self._throttle)
        r.add_post("/sandbox/installations", self._install)
        r.add_delete("/sandbox/installations/{user}", self._uninstall)
        r.add_put("/sandbox/conversations/{conversation}/members", self._put_roster)
        r.add_get("/sandbox/conversations/{conversation}/members", self._get_roster)
        return app

    def in_conversation(self, conversation_id: str) -> list[PostedActivity]:
        """Activities currently shown in a conversation (or a channel thread), oldest first."""
        return [a for a in self.activities.values() if a.conversation_id == conversation_id and not a.deleted]

    def record_incoming(self, conversation_id: str, activity: dict[str, Any]) -> None:
        """Register an activity the *user* posted (so threads and replies line up)."""
        self.activities[activity["id"]] = PostedActivity(activity["id"], conversation_id, activity, versions=[activity])

    # -- conversations ----------------------------------------------------------------------------------
    async def _create_conversation(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := await self._guard(request, "create_conversation", body):
            return refused
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        first = body.get("activity")
        if channel and self._refuse_thread(channel):
            return json_error(403, "BotNotInConversationRoster", "The bot isn't part of the conversation roster.")
        if channel:  # a new thread in a channel: the thread's root is its first activity
            root_id = self._new_id()
            conversation_id = f"{channel};messageid={root_id}"
            if first:
                self._store(conversation_id, root_id, first, None)
            await self._notify()
            return web.json_response(created(conversation_id, root_id if first else None), status=201)
        members = body.get("members") or []
        if not members:
            return bad_request("Conversation parameters must name a channel or at least one member.")
        chat_id = self._chat_with(members, bool(body.get("isGroup")))
        if chat_id is None:
            return json_error(403, "Forbidden", "The bot is not installed for this user (BotNotInConversationRoster).")
        activity_id = None
        if first:
            activity_id = self._new_id()
            self._store(chat_id, activity_id, first, None)
        await self._notify()
        return web.json_response(created(chat_id, activity_id), status=201)

    def _chat_with(self, members: list[dict[str, Any]], is_group: bool) -> str | None:
        """The chat a create-conversation call with `members` names; None when Teams refuses it.

        A 1:1 chat with a user (members=[the user], the tenant): Teams creates it, or answers the existing one, only
        when the app is installed for that user; otherwise the call is refused with 403 Forbidden
        (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages: "for a
        user to receive proactive messages, install the app for the user"). The member may be named by Teams id
        (29:...) or Entra object id."""
        user = self._user_named(str(members[0].get("id", ""))) if len(members) == 1 and not is_group else None
        if user is None:
            return f"a:sandbox-{members[0].get('id', 'unknown')}"
        return self.installed.get(user.object_id)

    # -- activities -------------------------------------------------------------------------------------
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
            return bad_request(f"Unsupported activity type '{body.get('type')}'.")
        activity_id = self._new_id()
        if body.get("type") == "message":
            self._store(conversation_id, activity_id, body, reply_to)
        await self._notify()
        return web.json_response({"id": activity_id}, status=201)

    def _store(self, conversation_id: str, activity_id: str, body: dict[str, Any], reply_to: str | None) -> None:
        shown = self._as_sent(body, activity_id)
        self.activities[activity_id] = PostedActivity(activity_id, conversation_id, shown, reply_to, versions=[shown])

    def _as_sent(self, body: dict[str, Any], activity_id: str) -> dict[str, Any]:
        """The activity as Teams keeps it: its id, and the time the service took it in `timestamp` ("date and time that
        the message was sent in the UTC time zone, expressed in ISO-8601 format",
        https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#activity-object);
        an update is stamped with the time it was made, as Teams shows an edited message's time."""
        sent = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {**body, "id": activity_id, "timestamp": sent}

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        if refused := await self._guard(request, "update", body):
            return refused
        activity_id = unquote(request.match_info["activity"])
        posted = self.activities.get(activity_id)
        if posted is None or posted.deleted:
            return not_found(f"Activity '{activity_id}' was not found.")
        posted.activity = self._as_sent(body, activity_id)
        posted.versions.append(posted.activity)
        await self._notify()
        return web.json_response({"id": activity_id})

    async def _delete(self, request: web.Request) -> web.Response:
        if refused := await self._guard(request, "delete", None):
            return refused
        posted = self.activities.get(unquote(request.match_info["activity"]))
        if posted is None:
            return not_found("Activity was not found.")
        posted.deleted = True
        await self._notify()
        return web.Response(status=200)

    # -- sandbox HTTP controls --------------------------------------------------------------------------
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
