"""What `sre-consent-bot driver` does: act as a demo user in a running sandbox, and play Azure Monitor."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


async def drive(args: argparse.Namespace, endpoints: dict[str, Any], sandbox_dir: Path) -> int:
    import ssl

    from sandbox.driver import TeamsDriver, execute_data
    from sandbox.world import demo_world

    world = demo_world()
    if args.action == "alert":
        return await _alert(args, endpoints, world, sandbox_dir)
    if args.user not in world.users:
        print(f"unknown user {args.user!r}: one of {', '.join(world.users)}", file=sys.stderr)
        return 2
    user = world.user(args.user)
    conversation = TeamsDriver.group_chat(endpoints["tenantId"], "sandbox-demo")
    context = ssl.create_default_context(cafile=endpoints["ca"])
    # signed like the Teams service signs activities, unless the bot runs anonymous (`sandbox --anonymous`)
    signing = {} if endpoints.get("anonymous") else {"channel_url": endpoints["channel"], "app_id": endpoints["botAppId"]}
    async with TeamsDriver(endpoints["bot"], endpoints["connector"], context, **signing) as driver:
        if args.action == "say":
            before = {m.id for m in await driver.bot_messages(conversation.id)}
            await driver.say(user, args.text, conversation)
            await asyncio.sleep(args.wait)
            for m in await driver.bot_messages(conversation.id):
                if m.id not in before:
                    print(_describe(m))
            return 0
        # the latest plan card (or the one named by --plan), in the demo chat or any channel thread
        cards = [m for m in await driver.bot_messages() if m.card and execute_data(m.card, "refresh") is not None]
        target = next((m for m in reversed(cards) if args.plan is None or args.plan in json.dumps(m.card)), None)
        if target is None:
            print("no plan card found: ask for one first (driver say ... or driver alert ...)", file=sys.stderr)
            return 1
        if ";messageid=" in target.conversation_id:
            conversation = TeamsDriver.channel(world.channels[0], endpoints["tenantId"])
        before = {m.id for m in await driver.bot_messages(target.conversation_id)}
        refreshed = await driver.click(user, conversation, target, "refresh", execute_data(target.card or {}, "refresh"))
        data = execute_data(refreshed.value if isinstance(refreshed.value, dict) else {}, args.action)
        if data is None:
            print(f"{args.user} sees no {args.action} button on that card (they may not be an approver, or it is too late).")
            return 1
        result = await driver.click(user, conversation, target, args.action, data)
        if result.status_code == 401 and result.type == "application/vnd.microsoft.activity.loginRequest" and args.fallback:
            # what the Teams client does when SSO is not possible: the sign-in button, then the magic code
            print(f"bot asked for sign-in (401 loginRequest); {args.user} signs in through its sign-in link (no SSO)")
            code = await driver.sign_in(result, args.user)
            result = await driver.click(user, conversation, target, args.action, data, state=code)
        elif result.status_code == 401 and result.type == "application/vnd.microsoft.activity.loginRequest":
            # what the Teams client does: obtain the SSO token silently, then send the same invoke again
            print(f"bot asked for sign-in (401 loginRequest); getting {args.user}'s SSO token as Teams would")
            async with driver.session.post(f"{endpoints['entra']}/sandbox/users/{args.user}/sso-token", json={}) as r:
                token = (await r.json())["token"]
            result = await driver.click(
                user, conversation, target, args.action, data, token=token, connection_name=result.value.get("connectionName")
            )
        shown = (
            _describe_card(result.value)
            if isinstance(result.value, dict) and result.value.get("type") == "AdaptiveCard"
            else json.dumps(result.value)
            if isinstance(result.value, dict)
            else str(result.value)
        )
        print(f"invoke answered {result.status_code}: {shown}")
        await asyncio.sleep(args.wait)
        for m in await driver.bot_messages(target.conversation_id):
            if m.id not in before and not m.card:
                print(_describe(m))
        return 0


async def _alert(args: argparse.Namespace, endpoints: dict[str, Any], world: Any, sandbox_dir: Path) -> int:
    """Play Azure Monitor: post a common-schema alert for the named VMs to the bot's incident webhook."""
    import aiohttp

    from sandbox.monitor import alert_payload

    vms = [v for v in world.vms if v.name in args.vm]
    if len(vms) != len(args.vm):
        print(f"unknown VM among {args.vm}: one of {', '.join(v.name for v in world.vms)}", file=sys.stderr)
        return 2
    url = (sandbox_dir / "incident-webhook-url").read_text().strip()
    payload = alert_payload(args.rule, vms, severity=args.severity, resolved=args.resolved, alert_id=args.alert_id)
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as r:
        print(f"HTTP {r.status}: {await r.text()}")
    print("alert id:", payload["data"]["essentials"]["alertId"])
    return 0 if r.status < 300 else 1


def _describe_card(card: dict[str, Any]) -> str:
    texts = [b.get("text") for b in card.get("body", []) if b.get("type") == "TextBlock"]
    return "[card] " + " | ".join(t for t in texts if t)


def _describe(m: Any) -> str:
    return _describe_card(m.card) if m.card else str(m.text)
