"""`sre-consent-bot`: serve, sandbox, driver, audit, check-config, manifest."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SANDBOX_DIR = Path(".sandbox").resolve()


def _settings(env: dict[str, str], *, serving: bool = False) -> Any:
    from .config import ConfigError, Settings, check_serving

    try:
        settings = Settings.from_env(env)
        if serving:
            check_serving(settings)
        return settings
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _env() -> dict[str, str]:
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(".env").items() if v is not None} if Path(".env").is_file() else {}
    return {**values, **os.environ}  # the real environment wins over .env


def _serve(settings: Any, hosts: list[str] | str, on_ready: Any = None) -> None:
    from aiohttp import web

    from .adapters.observability import configure_tracing
    from .app import create_app
    from .bootstrap import bootstrap
    from .logs import configure

    configure(settings.log_level)
    if settings.anonymous_allowed:
        logging.getLogger("bot").warning(
            "ANONYMOUS_ALLOWED=true and no MicrosoftAppId: Bot Framework authentication is OFF, anyone who reaches "
            "/api/messages can act as anyone; listening on loopback only. Never run a real deployment like this.")
    configure_tracing(settings.appinsights_connection_string)
    app = create_app(bootstrap(settings))
    if on_ready:
        app.on_startup.append(on_ready)
    web.run_app(app, host=hosts, port=settings.port, print=None, access_log=None)


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings(_env(), serving=True)
    _serve(settings, settings.host)


def cmd_check_config(args: argparse.Namespace) -> None:
    settings = _settings(_env(), serving=True)
    print("configuration is valid:")
    for key, value in vars(settings).items():
        shown = "(set)" if ("password" in key or "secret" in key) and value else value
        print(f"  {key} = {shown}")


def cmd_sandbox(args: argparse.Namespace) -> None:
    # The CA must be exported before aiohttp is imported: aiohttp builds its SSL context at import.
    from sandbox.tls import SandboxTLS

    SANDBOX_DIR.mkdir(exist_ok=True)
    tls = SandboxTLS.create(SANDBOX_DIR)
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(tls.ca_path)

    from sandbox import Sandbox

    box = Sandbox.start(SANDBOX_DIR, tls=tls, operation_seconds=args.operation_seconds)
    # local Bot Framework clients such as the Agents Playground have no user-specific card views
    env = {"CARD_BUTTONS": "everyone", **_env(), **box.bot_environment(), "STORE_PATH": str(SANDBOX_DIR / "bot.sqlite3"),
           "ARM_POLLING_INTERVAL": "0.5", "PORT": str(args.port)}
    if args.anonymous:
        env.update(box.anonymous_environment())
    settings = _settings(env, serving=True)
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
    # Azure Monitor's Action Groups app in the sandbox Entra, for `driver alert` to get secure webhook tokens
    action_groups = box.world.apps.get("action-groups")
    if action_groups is not None:
        credentials = SANDBOX_DIR / "action-groups.json"  # a throwaway local secret, readable by this user only
        credentials.touch(mode=0o600)
        credentials.write_text(json.dumps({"clientId": action_groups.client_id, "clientSecret": action_groups.secret}) + "\n")

    async def banner(app: Any) -> None:
        print(_banner(endpoints), flush=True)

    try:
        _serve(settings, ["127.0.0.1", "::1"] if _has_ipv6() else "127.0.0.1", banner)
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
        f"    {name:<8} {u['objectId']}  {'(another tenant)' if u['tenantId'] != e['tenantId'] else ''}"
        for name, u in e["users"].items()
    )
    return f"""
SRE consent bot: sandbox is up (Ctrl-C stops everything)

  bot            {e['bot']}   {_auth_line(e)}
  Entra          {e['entra']}
  ARM            {e['arm']}
  Bot Connector  {e['connector']}
  channel tokens {e['channel']}
  token service  {e['tokenService']}
  CA             {e['ca']}
  tenant         {e['tenantId']}
  written to     {SANDBOX_DIR / 'endpoints.json'}

  demo users (approvers: alice = VM Contributor, bob = Reader; carol asks; mallory is outside):
{users}

Three things to try, in another terminal:
  1. .venv/bin/sre-consent-bot driver say --as carol "help"
  2. .venv/bin/sre-consent-bot driver say --as carol "restart vm dev-01"      (then: driver approve --as alice)
  3. .venv/bin/sre-consent-bot driver say --as carol "restart vm web-01"      (the agent is only Reader on prod-rg)
And an incident: .venv/bin/sre-consent-bot driver alert --rule "Web tier unresponsive" --vm web-01
  (response plans: {SANDBOX_DIR / 'response-plans.json'})
{_playground_line(e)}
"""


def _auth_line(e: dict[str, Any]) -> str:
    if e.get("anonymous"):
        return "(ANONYMOUS: no Bot Framework authentication, loopback only, for the Agents Playground)"
    return f"(Bot Framework authentication on: app id {e['botAppId']}, activities must be signed)"


def _playground_line(e: dict[str, Any]) -> str:
    if e.get("anonymous"):
        port = e["bot"].split(":")[2].split("/")[0]
        return (f"Agents Playground (no SSO: grant cannot work there): M365_AGENTS_PLAYGROUND_CONFIG_PATH={SANDBOX_DIR}/playground.yml "
                f"npx agentsplayground -e http://127.0.0.1:{port}/api/messages -c msteams")
    return "The Agents Playground cannot sign activities: run `sre-consent-bot sandbox --anonymous` for it."


def cmd_driver(args: argparse.Namespace) -> None:
    path = SANDBOX_DIR / "endpoints.json"
    if not path.is_file():
        print("no sandbox is running here: start one with `make run` first", file=sys.stderr)
        raise SystemExit(2)
    endpoints = json.loads(path.read_text())
    if endpoints.get("anonymous") and args.action != "alert":
        print("the sandbox runs --anonymous, for the Agents Playground: the bot has no app id, so the sandbox Connector "
              "refuses its replies. Talk to it from the Playground, or restart the sandbox without --anonymous to use "
              "the driver.", file=sys.stderr)
        raise SystemExit(2)
    os.environ["SSL_CERT_FILE"] = endpoints["ca"]
    raise SystemExit(asyncio.run(_drive(args, endpoints)))


async def _drive(args: argparse.Namespace, endpoints: dict[str, Any]) -> int:
    import ssl

    from sandbox.driver import TeamsDriver, execute_data
    from sandbox.world import demo_world

    world = demo_world()
    if args.action == "alert":
        return await _alert(args, endpoints, world)
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
            result = await driver.click(user, conversation, target, args.action, data, token=token,
                                        connection_name=result.value.get("connectionName"))
        shown = _describe_card(result.value) if isinstance(result.value, dict) and result.value.get("type") == "AdaptiveCard" \
            else json.dumps(result.value) if isinstance(result.value, dict) else str(result.value)
        print(f"invoke answered {result.status_code}: {shown}")
        await asyncio.sleep(args.wait)
        for m in await driver.bot_messages(target.conversation_id):
            if m.id not in before and not m.card:
                print(_describe(m))
        return 0




async def _alert(args: argparse.Namespace, endpoints: dict[str, Any], world: Any) -> int:
    """Play Azure Monitor: fire an alert for the named VMs (or forge one) and post it to the bot's incident webhook,
    through the secure webhook (an Entra token of the Action Groups app) when the sandbox offers it."""
    import ssl

    import aiohttp

    from sandbox.monitor import alert_payload

    vms = [v for v in world.vms if v.name in args.vm]
    if len(vms) != len(args.vm):
        print(f"unknown VM among {args.vm}: one of {', '.join(v.name for v in world.vms)}", file=sys.stderr)
        return 2
    action_groups = SANDBOX_DIR / "action-groups.json"
    secure = action_groups.is_file() if args.secure is None else args.secure
    url = (SANDBOX_DIR / "incident-webhook-url").read_text().strip()
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
            control = (f"{endpoints['arm']}/sandbox/alerts/resolve" if args.resolved else f"{endpoints['arm']}/sandbox/alerts")
            body = {"alertId": args.alert_id} if args.resolved else {
                "rule": args.rule, "targets": [v.id for v in vms], "severity": args.severity}
            async with session.post(control, json=body, ssl=context) as r:
                if r.status >= 300:
                    print(f"Azure Monitor (sandbox) answered HTTP {r.status}: {await r.text()}", file=sys.stderr)
                    return 1
                payload = await r.json()
        async with session.post(url, json=payload, headers=headers) as r:
            print(f"HTTP {r.status} ({'secure webhook' if secure else 'webhook secret'}): {await r.text()}")
    print("alert id:", payload["data"]["essentials"]["alertId"])
    return 0 if r.status < 300 else 1


def _action_groups_token(app: dict[str, str], endpoints: dict[str, Any]) -> str:
    """What Azure Monitor's action group does for a secure webhook: client credentials for the bot's API."""
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(endpoints["tenantId"], app["clientId"], app["clientSecret"],
                                        authority=endpoints["entra"], disable_instance_discovery=True,
                                        connection_verify=endpoints["ca"])
    return credential.get_token(f"{endpoints['botAppIdUri']}/.default").token


def _describe_card(card: dict[str, Any]) -> str:
    texts = [b.get("text") for b in card.get("body", []) if b.get("type") == "TextBlock"]
    return "[card] " + " | ".join(t for t in texts if t)


def _describe(m: Any) -> str:
    return _describe_card(m.card) if m.card else str(m.text)


def cmd_audit(args: argparse.Namespace) -> None:
    from .adapters.store.sqlite import SqliteStore

    sandbox_store = SANDBOX_DIR / "bot.sqlite3"
    default = sandbox_store if sandbox_store.is_file() else Path("data/sre-consent-bot.sqlite3")
    store_path = Path(args.store or _env().get("STORE_PATH") or default)
    if not store_path.is_file():
        print(f"no store at {store_path}", file=sys.stderr)
        raise SystemExit(2)
    since = _since(args.since) if args.since else None
    store = SqliteStore(store_path)
    events = asyncio.run(store.events(args.plan, since))
    store.close()
    if args.json:
        for e in events:
            print(json.dumps({"at": e.at.isoformat(), "plan": e.plan_id, "actor": e.actor_name, "actorId": e.actor,
                              "event": e.event, "from": e.from_state, "to": e.to_state, "detail": e.detail}))
        return
    for e in events:
        move = f" {e.from_state} -> {e.to_state}" if e.from_state else ""
        detail = "; ".join(f"{k}={v}" for k, v in e.detail.items())
        print(f"{e.at:%Y-%m-%d %H:%M:%S} {e.plan_id or '-':<16} {e.actor_name:<20} {e.event}{move}" + (f"  ({detail})" if detail else ""))
    if not events:
        print("no audit events match")


def _since(value: str) -> datetime:
    m = re.fullmatch(r"(\d+)([mhd])", value)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[m[2]]
        return datetime.now(UTC) - timedelta(**{unit: int(m[1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        print(f"--since {value!r}: expected an ISO date/time or a duration like 30m, 2h, 7d", file=sys.stderr)
        raise SystemExit(2) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cmd_manifest(args: argparse.Namespace) -> None:
    from manifest.package import ManifestError, build, load, validate

    if args.action == "build":
        try:
            package = build(_env())
        except ManifestError as e:
            print(f"manifest build: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        problems = validate(package)
        if problems:
            print("manifest build: the package would not be valid:\n  " + "\n  ".join(problems), file=sys.stderr)
            raise SystemExit(1)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(package.zip_bytes())
        print(f"wrote {out} (manifest {package.manifest['manifestVersion']}, bot {package.manifest['bots'][0]['botId']})")
        return
    path = Path(args.path)
    if not path.exists():
        print(f"manifest validate: {path} does not exist", file=sys.stderr)
        raise SystemExit(2)
    problems = validate(load(path))
    for p in problems:
        print(p)
    if problems:
        raise SystemExit(1)
    print(f"{path}: valid")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sre-consent-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the bot with settings from the environment / .env").set_defaults(fn=cmd_serve)
    sub.add_parser("check-config", help="validate the settings and print them (secrets hidden)").set_defaults(fn=cmd_check_config)
    sb = sub.add_parser("sandbox", help="run the bot against loopback simulators of Entra, ARM and Teams")
    sb.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3978")))
    sb.add_argument("--operation-seconds", type=float, default=3.0, help="how long simulated VM operations take")
    sb.add_argument("--anonymous", action="store_true",
                    help="run the bot without Bot Framework authentication (ANONYMOUS_ALLOWED, loopback only) for the "
                         "Microsoft 365 Agents Playground, and write .sandbox/playground.yml for it")
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
            p.add_argument("--fallback", action="store_true",
                           help="sign in through the token service's sign-in link instead of SSO (what Teams does when SSO fails)")
    for p in dsub.choices.values():
        p.add_argument("--as", dest="user", default="carol", help="demo user: alice, bob, carol or mallory")
    al = dsub.add_parser("alert", help="play Azure Monitor: send an alert for VMs to /api/incidents")
    al.add_argument("--rule", required=True, help="alert rule name; response plans match on it")
    al.add_argument("--vm", action="append", required=True, help="target VM name (repeatable)")
    al.add_argument("--severity", default="Sev1", choices=["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"])
    al.add_argument("--resolved", action="store_true", help="send the Resolved notification")
    al.add_argument("--alert-id", help="the alert id (to resolve an earlier alert)")
    al.add_argument("--secure", action=argparse.BooleanOptionalAction, default=None,
                    help="post through the secure webhook (an Entra token of the Action Groups app); the default "
                         "when the sandbox offers it. --no-secure sends only the ?code= secret")
    al.add_argument("--forged", action="store_true", help="post an alert Azure Monitor never fired (it cannot be confirmed)")
    dr.set_defaults(fn=cmd_driver)
    au = sub.add_parser("audit", help="print the audit trail")
    au.add_argument("--plan")
    au.add_argument("--since", help="ISO time or a duration like 30m, 2h, 7d")
    au.add_argument("--store", help="SQLite file (default: STORE_PATH, else the running sandbox's)")
    au.add_argument("--json", action="store_true", help="one JSON object per line")
    au.set_defaults(fn=cmd_audit)
    mf = sub.add_parser("manifest", help="build or validate the Teams app package")
    msub = mf.add_subparsers(dest="action", required=True)
    mb = msub.add_parser("build", help="fill the manifest from configuration and write the .zip")
    mb.add_argument("--out", default="build/sre-consent-bot.zip")
    mv = msub.add_parser("validate", help="check a .zip, folder or manifest.json against the official schema and more")
    mv.add_argument("path", nargs="?", default="build/sre-consent-bot.zip")
    mf.set_defaults(fn=cmd_manifest)
    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
