"""What `make run` prints once the sandbox is up: where everything is, who the demo people are, and what to try, in
commands that work in the mode it runs in (signed, or --anonymous for the Agents Playground)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DRIVER = ".venv/bin/sre-consent-bot driver"


def banner(e: dict[str, Any], sandbox_dir: Path, bot_sdk: str) -> str:
    return f"""
SRE consent bot: sandbox is up (Ctrl-C stops everything)

  bot            {e["bot"]}   {_auth_line(e)}
  Teams SDK      BOT_SDK={bot_sdk} ({_SDKS.get(bot_sdk, bot_sdk)})
  Entra          {e["entra"]}
  ARM            {e["arm"]}
  Bot Connector  {e["connector"]}
  channel tokens {e["channel"]}
  token service  {e["tokenService"]}
  CA             {e["ca"]}
  tenant         {e["tenantId"]}
  written to     {sandbox_dir / "endpoints.json"}

  demo users (approvers: alice = VM Contributor, Contributor on prod-rg and platform-rg, bob = Reader; carol asks;
  mallory and gus are outside):
{_users(e)}

{_to_try(e, sandbox_dir)}
"""


_SDKS = {"botbuilder": "Bot Framework SDK", "agents": "Microsoft 365 Agents SDK"}


def _users(e: dict[str, Any]) -> str:
    def note(u: dict[str, Any]) -> str:
        if u["tenantId"] == e["tenantId"]:
            return ""
        return "(from another tenant, a guest in this one)" if u.get("guestIn") == e["tenantId"] else "(another tenant)"

    return "\n".join(f"    {name:<8} {u['objectId']}  {note(u)}".rstrip() for name, u in e["users"].items())


def _to_try(e: dict[str, Any], sandbox_dir: Path) -> str:
    if e.get("anonymous"):
        port = e["bot"].split(":")[2].split("/")[0]
        return f"""Three things to try: talk to the bot from the Microsoft 365 Agents Playground (you are alice there; it has no
SSO, so "Use my credentials" cannot complete), in another terminal, from the clone's root:
  M365_AGENTS_PLAYGROUND_CONFIG_PATH={sandbox_dir}/playground.yml npx agentsplayground -e http://127.0.0.1:{port}/api/messages -c msteams
then "help", then "restart vm dev-01" and Approve on the card.
(The driver commands act as signed Teams clients: they need the sandbox without --anonymous, `make run`.)"""
    return f"""Three things to try, in another terminal:
  1. {DRIVER} say --as carol "help"
  2. {DRIVER} say --as carol "restart vm dev-01"      (then: {DRIVER} approve --as alice)
  3. {DRIVER} say --as carol "restart vm web-01"      (the agent is only Reader on prod-rg)
  Beyond VMs: "scale plan shop-plan to 4", "restart app orders-web", "status pool aks-prod/nodepool1" (see help)
And an incident: {DRIVER} alert --rule "Web tier unresponsive" --vm web-01
  (response plans: {sandbox_dir / "response-plans.json"})
And as the agent: {DRIVER} plan --action "restart dev-01" --wait 120   (add --mcp for /mcp)
The Agents Playground cannot sign activities: run `sre-consent-bot sandbox --anonymous` for it."""


def _auth_line(e: dict[str, Any]) -> str:
    if e.get("anonymous"):
        return "(ANONYMOUS: no Bot Framework authentication, loopback only, for the Agents Playground)"
    return f"(Bot Framework authentication on: app id {e['botAppId']}, activities must be signed)"
