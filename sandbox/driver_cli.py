"""What `sre-consent-bot driver` does: act as a demo user in a running sandbox, and play Azure Monitor.

Every click prints the bot's own answer (its card, message or error) and then follows the thread: each new
reply and each new version of the plan's card, read from the sandbox Connector.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .driver import BotMessage, Conversation, InvokeResult, TeamsDriver, card_of, execute_data
from .views import LOGIN_REQUEST, describe_activity, describe_invoke, is_finished, plan_id_of
from .world import World, demo_world

DEMO_CHAT = "sandbox-demo"
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Where:
    """The conversation the driver acts in: a group chat, or the incidents channel (every thread in it)."""

    conversation: Conversation
    label: str

    def holds(self, conversation_id: str) -> bool:
        if self.conversation.kind == "channel":
            return conversation_id.startswith(self.conversation.id + ";messageid=")
        return conversation_id == self.conversation.id


def where(args: argparse.Namespace, world: World, tenant_id: str) -> Where:
    if getattr(args, "personal", False) and getattr(args, "user", None) in world.users:
        user = world.user(args.user)
        return Where(TeamsDriver.personal(user), f"{args.user}'s 1:1 chat with the bot")
    if getattr(args, "approvals", False):
        channel = world.approvals_channel
        return Where(TeamsDriver.channel(channel, tenant_id), f"channel {channel.channel_name}")
    if getattr(args, "channel", False):
        channel = world.channels[0]
        return Where(TeamsDriver.channel(channel, tenant_id), f"channel {channel.channel_name}")
    name = getattr(args, "chat", None) or DEMO_CHAT
    return Where(TeamsDriver.group_chat(tenant_id, name), f"chat {name}")


def conversation_of(conversation_id: str, world: World, tenant_id: str) -> Conversation:
    """How a client addresses the conversation a card was posted in (a channel thread, a chat)."""
    for channel in world.channels:
        if conversation_id.startswith(channel.channel_id + ";messageid="):
            return TeamsDriver.channel(channel, tenant_id)
    kind = "personal" if conversation_id.startswith("a:") else "groupChat"
    return Conversation(conversation_id, kind, tenant_id)


@dataclass
class Follower:
    """Prints what is new in some conversations: new messages and each new version of an updated one."""

    driver: TeamsDriver
    holds: Any  # Callable[[str], bool]: which conversation ids to follow
    seen: dict[str, int] = field(default_factory=dict)  # activity id -> versions printed

    async def start(self, history: bool = False) -> None:
        for m in await self._messages():
            self.seen[m.id] = 0 if history else len(m.versions)

    async def _messages(self) -> list[BotMessage]:
        return [m for m in await self.driver.bot_messages() if self.holds(m.conversation_id)]

    async def poll(self) -> list[BotMessage]:
        """Print what changed since the last poll; returns the messages that changed."""
        changed = []
        for m in await self._messages():
            versions = m.versions or (m.activity,)
            for number in range(self.seen.get(m.id, 0), len(versions)):
                updated = f" (update {number})" if number else ""
                print(f"{time.strftime('%H:%M:%S')} {_thread_label(m)}{updated}: {describe_activity(versions[number])}", flush=True)
            if len(versions) > self.seen.get(m.id, 0):
                changed.append(m)
            self.seen[m.id] = len(versions)
        return changed

    async def follow(self, seconds: float, *, done: Any = None, already_done: bool = False) -> None:
        """Poll for `seconds`, or until `done(changed messages)` (or `already_done`) says the story is over and a
        second passed quietly."""
        deadline, finished_at = time.monotonic() + seconds, time.monotonic() if already_done else None
        while time.monotonic() < deadline:
            changed = await self.poll()
            if changed:
                finished_at = time.monotonic() if done and done(changed) else finished_at
            elif finished_at is not None and time.monotonic() - finished_at > 1.0:
                return
            await asyncio.sleep(POLL_SECONDS)


def _thread_label(m: BotMessage) -> str:
    thread = m.conversation_id.split(";messageid=")
    where_ = f"thread {thread[1]}" if len(thread) > 1 else m.conversation_id
    return f"[{where_}]"


async def say(driver: TeamsDriver, args: argparse.Namespace, user: Any, place: Where) -> int:
    follower = Follower(driver, place.holds)
    await follower.start()
    personal = place.conversation.kind == "personal"
    if personal:  # chatting with the bot in personal scope means the app is installed for the user
        async with driver.session.post(f"{driver.service_url}/sandbox/installations", json={"user": user.name}) as r:
            r.raise_for_status()
    result = await driver.post(driver.message(user, args.text, place.conversation, mention=not personal))
    if result.status >= 300:
        print(f"bot answered HTTP {result.status}: {result.body}", file=sys.stderr)
        return 1
    await follower.follow(args.wait, done=lambda changed: True)
    return 0


async def find_plan_card(driver: TeamsDriver, args: argparse.Namespace, place: Where) -> BotMessage | None:
    """The card of `--plan` (anywhere, finished or not), else the newest plan card in the named conversation."""
    cards = [m for m in await driver.bot_messages() if plan_id_of(m)]
    if args.plan:
        return next((m for m in reversed(cards) if plan_id_of(m) == args.plan), None)
    return next((m for m in reversed(cards) if place.holds(m.conversation_id)), None)


def button_data(target: BotMessage, refreshed: InvokeResult, verb: str, plan_id: str) -> dict[str, Any]:
    """What a click on `verb` sends: the button of the clicker's own view, else of any version of the shared card
    (so the bot, not the driver, decides whether this person may click it), else just the plan id."""
    cards = [refreshed.value, *(card_of(v) for v in reversed(target.versions or (target.activity,)))]
    for card in cards:
        if isinstance(card, dict) and (data := execute_data(card, verb)) is not None:
            return data
    return {"planId": plan_id}


async def click(driver: TeamsDriver, args: argparse.Namespace, user: Any, place: Where, endpoints: dict[str, Any], world: World) -> int:
    target = await find_plan_card(driver, args, place)
    if target is None:
        which = f"plan {args.plan}" if args.plan else f"no plan card in {place.label}"
        print(
            f"{which} not found: ask for one first (driver say ... or driver alert ...), or name one with --plan ID"
            if args.plan
            else f"{which}: ask for one first (driver say ...), or use --channel, --chat NAME or --plan ID",
            file=sys.stderr,
        )
        return 1
    plan_id = plan_id_of(target) or ""
    conversation = conversation_of(target.conversation_id, world, endpoints["tenantId"])
    follower = Follower(driver, lambda cid: cid == target.conversation_id)
    await follower.start()
    refreshed = await driver.click(user, conversation, target, "refresh", {"planId": plan_id})
    data = button_data(target, refreshed, args.action, plan_id)
    if args.action == "deny" and args.reason:
        data["reason"] = args.reason  # Teams merges the card's inputs (the "reason" box) into the action's data
    print(f"{args.user} clicks {args.action} on plan {plan_id}")
    result = await driver.click(user, conversation, target, args.action, data)
    result = await _sign_in_if_asked(driver, args, endpoints, result, user, conversation, target, data)
    print(describe_invoke(result), flush=True)
    # a finished card or a reply in the thread ends the story; an answer other than a card changed nothing
    shows_card = isinstance(result.value, dict) and result.value.get("type") == "AdaptiveCard"
    await follower.follow(
        args.wait,
        done=lambda changed: any(is_finished(m.card) or not m.card for m in changed),
        already_done=not shows_card or is_finished(result.value),
    )
    return 0 if result.status < 300 and (result.status_code or 200) < 300 else 1


async def _sign_in_if_asked(
    driver: TeamsDriver,
    args: argparse.Namespace,
    endpoints: dict[str, Any],
    result: InvokeResult,
    user: Any,
    conversation: Conversation,
    target: BotMessage,
    data: dict[str, Any],
) -> InvokeResult:
    """What the Teams client does with a 401 loginRequest: SSO, or the sign-in link when SSO fails (`--fallback`)."""
    if result.status_code != 401 or result.type != LOGIN_REQUEST:
        return result
    print(describe_invoke(result))
    if getattr(args, "fallback", False):
        print(f"{args.user} signs in through the loginRequest's sign-in link (no SSO), as Teams shows it")
        code = await driver.sign_in(result, args.user)
        return await driver.click(user, conversation, target, args.action, data, state=code)
    print(f"getting {args.user}'s SSO token silently, as Teams would, and sending the same click again")
    async with driver.session.post(f"{endpoints['entra']}/sandbox/users/{args.user}/sso-token", json={}) as r:
        token = (await r.json())["token"]
    return await driver.click(
        user, conversation, target, args.action, data, token=token, connection_name=result.value.get("connectionName")
    )


async def watch(driver: TeamsDriver, args: argparse.Namespace, place: Where) -> int:
    if args.plan:
        target = await find_plan_card(driver, args, place)
        if target is None:
            print(f"plan {args.plan} not found", file=sys.stderr)
            return 1
        label, holds = f"plan {args.plan}'s thread", (lambda cid: cid == target.conversation_id)
    else:
        label, holds = place.label, place.holds
    follower = Follower(driver, holds)
    await follower.start(history=args.history)
    print(f"watching {label} (Ctrl-C stops)", flush=True)
    await follower.follow(args.seconds if args.seconds is not None else float("inf"))
    return 0


async def drive(args: argparse.Namespace, endpoints: dict[str, Any], sandbox_dir: Path) -> int:
    world = demo_world()
    context = ssl.create_default_context(cafile=endpoints["ca"])
    # signed like the Teams service signs activities, unless the bot runs anonymous (`sandbox --anonymous`)
    signing = {} if endpoints.get("anonymous") else {"channel_url": endpoints["channel"], "app_id": endpoints["botAppId"]}
    async with TeamsDriver(endpoints["bot"], endpoints["connector"], context, **signing) as driver:
        if args.action == "alert":
            return await _alert(args, endpoints, world, sandbox_dir, driver)
        place = where(args, world, endpoints["tenantId"])
        if args.action == "watch":
            return await watch(driver, args, place)
        if args.user not in world.users:
            print(f"unknown user {args.user!r}: one of {', '.join(world.users)}", file=sys.stderr)
            return 2
        user = world.user(args.user)
        if args.action == "say":
            return await say(driver, args, user, place)
        if args.action == "install":
            await driver.install(user)
            print(f"the app is installed for {args.user}: their 1:1 chat is {TeamsDriver.personal(user).id}")
            return 0
        if args.action == "uninstall":
            await driver.uninstall(user)
            print(f"the app is removed for {args.user}")
            return 0
        return await click(driver, args, user, place, endpoints, world)


async def _alert(args: argparse.Namespace, endpoints: dict[str, Any], world: Any, sandbox_dir: Path, driver: TeamsDriver) -> int:
    """Play Azure Monitor: fire an alert for the named VMs (or forge one) and post it to the bot's incident webhook,
    through the secure webhook (an Entra token of the Action Groups app) when the sandbox offers it."""

    import aiohttp

    from sandbox.monitor import alert_payload

    vms = [v for v in world.vms if v.name in args.vm]
    if len(vms) != len(args.vm):
        print(f"unknown VM among {args.vm}: one of {', '.join(v.name for v in world.vms)}", file=sys.stderr)
        return 2
    action_groups = sandbox_dir / "action-groups.json"
    secure = action_groups.is_file() if args.secure is None else args.secure
    url = (sandbox_dir / "incident-webhook-url").read_text().strip()
    headers: dict[str, str] = {}
    if secure:
        if not action_groups.is_file():
            print("this sandbox offers no secure webhook (no .sandbox/action-groups.json): restart it", file=sys.stderr)
            return 2
        headers["Authorization"] = f"Bearer {_action_groups_token(json.loads(action_groups.read_text()), endpoints)}"
        url = url.split("?", 1)[0]  # the token alone: no secret in the URL
    context = ssl.create_default_context(cafile=endpoints["ca"])
    async with aiohttp.ClientSession() as session:
        if args.forged:  # a notification Azure Monitor never fired: the bot cannot confirm it
            payload = alert_payload(args.rule, vms, severity=args.severity, resolved=args.resolved, alert_id=args.alert_id)
        else:  # Azure Monitor fires (or resolves) the alert, then its action group posts the notification
            control = f"{endpoints['arm']}/sandbox/alerts/resolve" if args.resolved else f"{endpoints['arm']}/sandbox/alerts"
            body = (
                {"alertId": args.alert_id}
                if args.resolved
                else {"rule": args.rule, "targets": [v.id for v in vms], "severity": args.severity}
            )
            async with session.post(control, json=body, ssl=context) as r:
                if r.status >= 300:
                    print(f"Azure Monitor (sandbox) answered HTTP {r.status}: {await r.text()}", file=sys.stderr)
                    return 1
                payload = await r.json()
        async with session.post(url, json=payload, headers=headers) as r:
            status, text = r.status, await r.text()
            location = r.headers.get("Location")
        if status == 202 and location:  # stored: the bot processes it in the background; ask how it went
            text = await _processed(session, url, location, headers, text)
    print(f"posted through the {'secure webhook (Entra token)' if secure else 'webhook secret'}")
    await _print_alert_outcome(driver, status, text, payload["data"]["essentials"]["alertId"])
    return 0 if status < 300 else 1


async def _processed(session: Any, url: str, location: str, headers: dict[str, str], accepted: str, timeout: float = 15.0) -> str:
    """Poll the alert's status URL (same credentials as the POST) until the bot has processed it; the answer merged
    with what processing did (response plans matched, plans proposed)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit

    base, query = urlsplit(url), dict(parse_qsl(urlsplit(url).query))
    status_url = f"{base.scheme}://{base.netloc}{location}"
    if "code" in query:
        status_url += "&" + urlencode({"code": query["code"]})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with session.get(status_url, headers=headers) as r:
            if r.status == 200:
                return json.dumps({**json.loads(accepted), **(await r.json())})
        await asyncio.sleep(POLL_SECONDS)
    return accepted


def _action_groups_token(app: dict[str, str], endpoints: dict[str, Any]) -> str:
    """What Azure Monitor's action group does for a secure webhook: client credentials for the bot's API."""
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        endpoints["tenantId"],
        app["clientId"],
        app["clientSecret"],
        authority=endpoints["entra"],
        disable_instance_discovery=True,
        connection_verify=endpoints["ca"],
    )
    return str(credential.get_token(f"{endpoints['botAppIdUri']}/.default").token)


async def _print_alert_outcome(driver: TeamsDriver, status: int, text: str, alert_id: str) -> None:
    """The webhook's answer as a summary: which response plans matched, and each plan's thread and current state."""
    try:
        body = json.loads(text)
    except ValueError:
        body = {"error": text}
    print(
        f"HTTP {status}: "
        + (
            body.get("error")
            or ("a repeated delivery, already handled" if body.get("duplicate") else f"alert {body.get('condition', '')} accepted")
        )
    )
    print(f"alert id: {alert_id}")
    if status >= 300 or body.get("duplicate"):
        return
    print("response plans matched: " + (", ".join(body.get("matched") or []) or "none"))
    for plan in body.get("plans") or []:
        card = await _card_of_plan(driver, plan["id"])
        shown = f"{describe_activity(card.activity)} in {_thread_label(card)}" if card else f"state {plan['state']}"
        print(f"  plan {plan['id']}: {shown}")


async def _card_of_plan(driver: TeamsDriver, plan_id: str, timeout: float = 5.0) -> BotMessage | None:
    """The plan's card as it is now (the webhook answers before the card may be posted: poll a little)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((m for m in await driver.bot_messages() if plan_id_of(m) == plan_id), None)
        if found:
            return found
        await asyncio.sleep(POLL_SECONDS)
    return None
