"""The `sandbox` and `driver` commands of `sre-consent-bot`: run the bot against the simulators, and act in it as a demo user."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from bot.launch import load_env, serve, settings_or_exit

SANDBOX_DIR = Path(".sandbox").resolve()


def cmd_sandbox(args: argparse.Namespace) -> None:
    # The CA must be exported before aiohttp is imported: aiohttp builds its SSL context at import.
    from sandbox.tls import SandboxTLS

    SANDBOX_DIR.mkdir(exist_ok=True)
    tls = SandboxTLS.create(SANDBOX_DIR)
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(tls.ca_path)

    from sandbox import Sandbox

    box = Sandbox.start(SANDBOX_DIR, tls=tls, operation_seconds=args.operation_seconds)
    # local Bot Framework clients such as the Agents Playground have no user-specific card views
    env = {
        "CARD_BUTTONS": "everyone",
        **load_env(),
        **box.bot_environment(),
        "STORE_PATH": str(SANDBOX_DIR / "bot.sqlite3"),
        "ARM_POLLING_INTERVAL": "0.5",
        "PORT": str(args.port),
    }
    if args.anonymous:
        env.update(box.anonymous_environment())
    settings = settings_or_exit(env, serving=True)
    bot_url = f"http://localhost:{settings.port}/api/messages"
    endpoints = {**box.endpoints(), "bot": bot_url, "anonymous": settings.anonymous_allowed}
    if args.anonymous:
        from sandbox.playground import config_yaml

        # the Agents Playground's mocked tenant and people: the demo world's, so the bot serves them
        (SANDBOX_DIR / "playground.yml").write_text(config_yaml(box.world, "alice", f"28:{box.world.bot.client_id}", "SRE Consent"))
    (SANDBOX_DIR / "endpoints.json").write_text(json.dumps(endpoints, indent=2) + "\n")
    webhook = SANDBOX_DIR / "incident-webhook-url"  # a throwaway local secret, readable by this user only
    webhook.touch(mode=0o600)
    webhook.write_text(f"http://localhost:{settings.port}/api/incidents?code={box.webhook_secret}\n")

    async def banner(app: Any) -> None:
        print(_banner(endpoints), flush=True)

    try:
        serve(settings, ["127.0.0.1", "::1"] if _has_ipv6() else "127.0.0.1", banner)
    finally:
        box.stop()
        print("sandbox stopped.")


def _has_ipv6() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _banner(e: dict[str, Any]) -> str:
    users = "\n".join(
        f"    {name:<8} {u['objectId']}  {'(another tenant)' if u['tenantId'] != e['tenantId'] else ''}" for name, u in e["users"].items()
    )
    return f"""
SRE consent bot: sandbox is up (Ctrl-C stops everything)

  bot            {e["bot"]}   {_auth_line(e)}
  Entra          {e["entra"]}
  ARM            {e["arm"]}
  Bot Connector  {e["connector"]}
  channel tokens {e["channel"]}
  token service  {e["tokenService"]}
  CA             {e["ca"]}
  tenant         {e["tenantId"]}
  written to     {SANDBOX_DIR / "endpoints.json"}

  demo users (approvers: alice = VM Contributor, bob = Reader; carol asks; mallory is outside):
{users}

Three things to try, in another terminal:
  1. .venv/bin/sre-consent-bot driver say --as carol "help"
  2. .venv/bin/sre-consent-bot driver say --as carol "restart vm dev-01"      (then: driver approve --as alice)
  3. .venv/bin/sre-consent-bot driver say --as carol "restart vm web-01"      (the agent is only Reader on prod-rg)
And an incident: .venv/bin/sre-consent-bot driver alert --rule "Web tier unresponsive" --vm web-01
  (response plans: {SANDBOX_DIR / "response-plans.json"})
{_playground_line(e)}
"""


def _auth_line(e: dict[str, Any]) -> str:
    if e.get("anonymous"):
        return "(ANONYMOUS: no Bot Framework authentication, loopback only, for the Agents Playground)"
    return f"(Bot Framework authentication on: app id {e['botAppId']}, activities must be signed)"


def _playground_line(e: dict[str, Any]) -> str:
    if e.get("anonymous"):
        port = e["bot"].split(":")[2].split("/")[0]
        return (
            f"Agents Playground (no SSO: grant cannot work there): M365_AGENTS_PLAYGROUND_CONFIG_PATH={SANDBOX_DIR}/playground.yml "
            f"npx agentsplayground -e http://127.0.0.1:{port}/api/messages -c msteams"
        )
    return "The Agents Playground cannot sign activities: run `sre-consent-bot sandbox --anonymous` for it."


def cmd_driver(args: argparse.Namespace) -> None:
    path = SANDBOX_DIR / "endpoints.json"
    if not path.is_file():
        print("no sandbox is running here: start one with `make run` first", file=sys.stderr)
        raise SystemExit(2)
    endpoints = json.loads(path.read_text())
    if endpoints.get("anonymous") and args.action != "alert":
        print(
            "the sandbox runs --anonymous, for the Agents Playground: the bot has no app id, so the sandbox Connector "
            "refuses its replies. Talk to it from the Playground, or restart the sandbox without --anonymous to use "
            "the driver.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    os.environ["SSL_CERT_FILE"] = endpoints["ca"]
    from .driver_cli import drive

    raise SystemExit(asyncio.run(drive(args, endpoints, SANDBOX_DIR)))


def add_commands(sub: Any) -> None:
    """Register `sandbox` and `driver` on the `sre-consent-bot` command line."""
    sb = sub.add_parser("sandbox", help="run the bot against loopback simulators of Entra, ARM and Teams")
    sb.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3978")))
    sb.add_argument("--operation-seconds", type=float, default=3.0, help="how long simulated VM operations take")
    sb.add_argument(
        "--anonymous",
        action="store_true",
        help="run the bot without Bot Framework authentication (ANONYMOUS_ALLOWED, loopback only) for the "
        "Microsoft 365 Agents Playground, and write .sandbox/playground.yml for it",
    )
    sb.set_defaults(fn=cmd_sandbox)
    dr = sub.add_parser("driver", help="act as a demo user against a running sandbox")
    dsub = dr.add_subparsers(dest="action", required=True)
    say = dsub.add_parser("say", help="send a message mentioning the bot")
    say.add_argument("text")
    say.add_argument("--wait", type=float, default=2.0, help="seconds to wait for the bot's answers")
    for verb in ("approve", "deny", "grant", "cancel"):
        p = dsub.add_parser(verb, help=f"click {verb} on the latest plan card (or --plan ID)")
        p.add_argument("--plan")
        p.add_argument("--wait", type=float, default=6.0, help="seconds to wait for the thread's new messages")
        if verb == "grant":
            p.add_argument(
                "--fallback",
                action="store_true",
                help="sign in through the token service's sign-in link instead of SSO (what Teams does when SSO fails)",
            )
    for p in dsub.choices.values():
        p.add_argument("--as", dest="user", default="carol", help="demo user: alice, bob, carol or mallory")
    al = dsub.add_parser("alert", help="play Azure Monitor: send an alert for VMs to /api/incidents")
    al.add_argument("--rule", required=True, help="alert rule name; response plans match on it")
    al.add_argument("--vm", action="append", required=True, help="target VM name (repeatable)")
    al.add_argument("--severity", default="Sev1", choices=["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"])
    al.add_argument("--resolved", action="store_true", help="send the Resolved notification")
    al.add_argument("--alert-id", help="the alert id (to resolve an earlier alert)")
    dr.set_defaults(fn=cmd_driver)
