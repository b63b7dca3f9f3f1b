"""What `sre-consent-bot driver` does: act as a demo user in a running sandbox, and play Azure Monitor.

Every click prints the bot's own answer (its card, message or error) and then follows the thread: each new
reply and each new version of the plan's card, read from the sandbox Connector (sandbox/driver_follow.py).
`driver alert` is sandbox/driver_alert.py, `driver plan` (the agent app) sandbox/driver_plan.py.
"""

from __future__ import annotations

import argparse
import ssl
import sys
from pathlib import Path
from typing import Any

from .cli import CLICKS
from .driver import BotMessage, Conversation, InvokeResult, TeamsDriver, card_of, execute_data
from .driver_alert import play_alert
from .driver_follow import Follower, Where, conversation_of, where
from .driver_plan import propose
from .playground import GROUP_CHAT
from .views import LOGIN_REQUEST, describe_invoke, is_finished, plan_id_of
from .world import World, demo_world

VERBS = {"again": "proposeAgain"}  # the card's Action.Execute verb, where it is not the command's name


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
    verb = VERBS.get(args.action, args.action)
    data = button_data(target, refreshed, verb, plan_id)
    if args.action == "deny" and args.reason:
        data["reason"] = args.reason  # Teams merges the card's inputs (the "reason" box) into the action's data
    print(f"{args.user} clicks {CLICKS[args.action]} on plan {plan_id}")
    result = await driver.click(user, conversation, target, verb, data)
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


async def say_in_playground(args: argparse.Namespace, endpoints: dict[str, Any], world: World) -> int:
    """A second person's message in the Agents Playground's group chat Ops: sent to the bot as the Playground sends
    its own user's (unsigned, its Bot Connector as `serviceUrl`), so the bot answers in the Playground, where its
    current user sees the card and clicks it. The Playground alone has only that one user."""
    if args.user not in world.users or world.user(args.user).tenant_id != endpoints["tenantId"]:
        print(f"--as {args.user}: the Playground's group chat has the home tenant's demo users only", file=sys.stderr)
        return 2
    conversation = Conversation(GROUP_CHAT, "groupChat", endpoints["tenantId"])
    async with TeamsDriver(endpoints["bot"], args.playground_url) as driver:
        result = await driver.post(driver.message(world.user(args.user), args.text, conversation))
    if result.status >= 300:
        print(f"bot answered HTTP {result.status}: {result.body}", file=sys.stderr)
        return 1
    print(f"{args.user} said {args.text!r} in the Playground's group chat Ops: the bot answers there")
    return 0


async def drive(args: argparse.Namespace, endpoints: dict[str, Any], sandbox_dir: Path) -> int:
    world = demo_world()
    if getattr(args, "playground", None):
        return await say_in_playground(args, endpoints, world)
    context = ssl.create_default_context(cafile=endpoints["ca"])
    # signed like the Teams service signs activities, unless the bot runs anonymous (`sandbox --anonymous`)
    signing = {} if endpoints.get("anonymous") else {"channel_url": endpoints["channel"], "app_id": endpoints["botAppId"]}
    async with TeamsDriver(endpoints["bot"], endpoints["connector"], context, **signing) as driver:
        if args.action == "alert":
            return await play_alert(args, endpoints, world, sandbox_dir, driver)
        if args.action == "plan":  # the agent app, not a person; the driver only shows where its card went
            return await propose(args, endpoints, sandbox_dir, driver)
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
