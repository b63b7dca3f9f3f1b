"""`driver alert`: play Azure Monitor against a running sandbox, and show what the bot made of the alert."""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from .api_token import api_token
from .driver import BotMessage, TeamsDriver
from .driver_follow import POLL_SECONDS, thread_label
from .monitor import alert_payload
from .views import describe_activity, is_finished, plan_id_of
from .world import VirtualMachine


async def play_alert(args: argparse.Namespace, endpoints: dict[str, Any], world: Any, sandbox_dir: Path, driver: TeamsDriver) -> int:
    """Play Azure Monitor: fire an alert for the named VMs (or forge one) and post it to the bot's incident webhook,
    through the secure webhook (an Entra token of the Action Groups app) when the sandbox offers it."""
    vms = [v for v in world.vms if v.name in args.vm]
    if len(vms) != len(args.vm):
        print(f"unknown VM among {args.vm}: one of {', '.join(v.name for v in world.vms)}", file=sys.stderr)
        return 2
    webhook = _webhook(args, endpoints, sandbox_dir)
    if webhook is None:
        return 2
    url, headers = webhook
    async with aiohttp.ClientSession() as session:
        payload = await _notification(session, args, endpoints, vms)
        if payload is None:
            return 1
        async with session.post(url, json=payload, headers=headers) as r:
            status, text = r.status, await r.text()
            location = r.headers.get("Location")
        if status == 202 and location:  # stored: the bot processes it in the background; ask how it went
            text = await _processed(session, url, location, headers, text)
    print(f"posted through the {'secure webhook (Entra token)' if headers else 'webhook secret'}")
    await _print_alert_outcome(driver, status, text, payload["data"]["essentials"]["alertId"])
    if status < 300 and not args.resolved and not args.forged:
        vms = " ".join(f"--vm {v}" for v in args.vm)
        print(f'when the alert clears: {DRIVER} alert --resolved --rule "{args.rule}" {vms}')
    return 0 if status < 300 else 1


def _webhook(args: argparse.Namespace, endpoints: dict[str, Any], sandbox_dir: Path) -> tuple[str, dict[str, str]] | None:
    """The incident webhook's URL and headers: the secure webhook (a token, no secret in the URL) when the sandbox
    offers it or `--secure` asks for it, else the URL with its `?code=` secret; None (said why) when it cannot."""
    action_groups = sandbox_dir / "action-groups.json"
    secure = action_groups.is_file() if args.secure is None else args.secure
    url = (sandbox_dir / "incident-webhook-url").read_text().strip()
    if not secure:
        return url, {}
    if not action_groups.is_file():
        print("this sandbox offers no secure webhook (no .sandbox/action-groups.json): restart it", file=sys.stderr)
        return None
    token = api_token(json.loads(action_groups.read_text()), endpoints)  # as the action group's secure webhook does
    return url.split("?", 1)[0], {"Authorization": f"Bearer {token}"}  # the token alone: no secret in the URL


async def _notification(
    session: aiohttp.ClientSession, args: argparse.Namespace, endpoints: dict[str, Any], vms: list[VirtualMachine]
) -> dict[str, Any] | None:
    """What the action group posts: Azure Monitor fires (or resolves) the alert first, unless `--forged`; None (said
    why) when the sandbox's Azure Monitor refuses."""
    if args.forged:  # a notification Azure Monitor never fired: the bot cannot confirm it
        return alert_payload(args.rule, vms, severity=args.severity, resolved=args.resolved, alert_id=args.alert_id)
    control = f"{endpoints['arm']}/sandbox/alerts/resolve" if args.resolved else f"{endpoints['arm']}/sandbox/alerts"
    # a Resolved notification without --alert-id resolves the newest alert of that rule still fired on those VMs
    targets = {"rule": args.rule, "targets": [v.id for v in vms]}
    body = ({"alertId": args.alert_id} if args.alert_id else targets) if args.resolved else {**targets, "severity": args.severity}
    async with session.post(control, json=body, ssl=ssl.create_default_context(cafile=endpoints["ca"])) as r:
        if r.status >= 300:
            print(f"Azure Monitor (sandbox) answered HTTP {r.status}: {await r.text()}", file=sys.stderr)
            return None
        payload: dict[str, Any] = await r.json()
        return payload


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
    plans = body.get("plans") or []
    for plan in plans:
        card = await _card_of_plan(driver, plan["id"])
        shown = f"{describe_activity(card.activity)} in {thread_label(card)}" if card else f"state {plan['state']}"
        print(f"  plan {plan['id']}: {shown}")
        if card is not None and (step := next_command(card, plan["id"] if len(plans) > 1 else None)):
            print(f"  next: {step}")


async def _card_of_plan(driver: TeamsDriver, plan_id: str, timeout: float = 5.0) -> BotMessage | None:
    """The plan's card as it is now (the webhook answers before the card may be posted: poll a little)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((m for m in await driver.bot_messages() if plan_id_of(m) == plan_id), None)
        if found:
            return found
        await asyncio.sleep(POLL_SECONDS)
    return None


DRIVER = ".venv/bin/sre-consent-bot driver"
# what the newest card asks for -> who does it next in the demo world (alice holds the rights the agent lacks)
NEXT_CLICK = {"Awaiting approval": "approve --as alice", "credentials needed": "grant --as alice"}


def next_command(card: BotMessage, plan_id: str | None) -> str | None:
    """The driver command that moves the plan on from what its card shows now: a click for the card's responder, or
    following its thread while it runs; None once it has ended."""
    shown = describe_activity(card.activity)
    where = f"--plan {plan_id}" if plan_id else "--channel"
    for state, click in NEXT_CLICK.items():
        if state in shown:
            return f"{DRIVER} {click} {where}"
    if is_finished(card.card):
        return None
    return f"{DRIVER} watch {where}"
