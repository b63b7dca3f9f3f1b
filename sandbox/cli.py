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

from .lock import acquire, port_in_use, running

DEMO_CHAT = "sandbox-demo"
PLAYGROUND_CONNECTOR = "http://localhost:56150/_connector"  # the Agents Playground's Bot Connector on its default port

SANDBOX_DIR = Path(".sandbox").resolve()


NO_SANDBOX = "no sandbox is running: start it with make run"
# driver click commands -> the card button each one clicks (`again`: a new plan with the actions of one that ended)
CLICKS = {"approve": "Approve", "deny": "Deny", "grant": "Use my credentials", "cancel": "Cancel", "again": "Propose again"}


def _port(args: argparse.Namespace) -> int:
    """--port, else PORT from the environment or .env, else 3978; a bad PORT is one clear line, never a traceback."""
    if args.port is not None:
        return int(args.port)
    raw = load_env().get("PORT", "").strip() or "3978"
    if not raw.isdigit():
        print(f"configuration error: PORT={raw!r} is invalid: expected a whole number (PORT=3990 make run)", file=sys.stderr)
        raise SystemExit(2)
    return int(raw)


def _refuse_if_taken(port: int) -> None:
    """Exit, changing nothing, when a sandbox already runs here or another program has the port."""
    owner = running(SANDBOX_DIR)
    if owner is not None:
        print(
            f"a sandbox is already running (pid {owner['pid']}, bot on {owner['bot']}); stop it with Ctrl-C in its terminal",
            file=sys.stderr,
        )
        raise SystemExit(1)
    if port_in_use(port):
        print(
            f"port {port} is already in use by another program: stop it, or start the sandbox on another port: "
            f"PORT={_another(port)} make run",
            file=sys.stderr,
        )
        raise SystemExit(1)


def cmd_sandbox(args: argparse.Namespace) -> None:
    port = _port(args)
    _refuse_if_taken(port)  # before anything is written or printed
    lock = acquire(SANDBOX_DIR, port, f"http://localhost:{port}/api/messages")
    if lock is None:  # another sandbox took it since the check above
        _refuse_if_taken(port)
        raise SystemExit(1)
    try:
        _run_sandbox(args, port)
    finally:
        (SANDBOX_DIR / "endpoints.json").unlink(missing_ok=True)  # the driver must not talk to a stopped sandbox
        lock.release()


def _run_sandbox(args: argparse.Namespace, port: int) -> None:
    # The CA must be exported before aiohttp is imported: aiohttp builds its SSL context at import.
    from sandbox.tls import SandboxTLS

    env = load_env()  # what the user set, before the sandbox sets its CA
    tls = SandboxTLS.create(SANDBOX_DIR)
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(tls.ca_path)

    from sandbox import Sandbox

    from .banner import banner
    from .bot_env import bot_environment, ignored, ignored_line

    if names := ignored(env):
        print(ignored_line(names), flush=True)
    box = Sandbox.start(SANDBOX_DIR, tls=tls, operation_seconds=args.operation_seconds, keep=True, avoid=frozenset({port}))
    try:
        _start_afresh_unless_resumed(box.resumed)
        bot_env = bot_environment(box, env, anonymous=args.anonymous, port=port, store=SANDBOX_DIR / STORE_FILE)
        settings = settings_or_exit(bot_env, serving=True)
        endpoints = _write_files(box, args, settings.teams.port)

        async def show_banner(app: Any) -> None:
            print(banner(endpoints, SANDBOX_DIR, settings.teams.bot_sdk), flush=True)

        hosts = ["127.0.0.1", "::1"] if _has_ipv6() else "127.0.0.1"
        serve(settings, hosts, show_banner, port_hint=f"stop it, or start the sandbox on another port: PORT={_another(port)} make run")
    finally:
        box.stop()
        print("sandbox stopped.")


STORE_FILE = "bot.sqlite3"


def _start_afresh_unless_resumed(resumed: bool) -> None:
    """The bot's store is kept across runs with the Connector's conversations (so a restart after kill -9 shows the
    interrupted plan in its thread); when the Connector could not get its last address back, the plans stored
    before point at an address nobody answers: they are dropped, and that is said."""
    store = SANDBOX_DIR / STORE_FILE
    if resumed or not store.exists():
        return
    for path in (store, store.with_name(STORE_FILE + "-wal"), store.with_name(STORE_FILE + "-shm")):
        path.unlink(missing_ok=True)
    print("make run: the simulated Teams could not get its last address back, so the plans of earlier runs were dropped")


def _another(port: int) -> int:
    return 3990 if port != 3990 else 3991


def _write_files(box: Any, args: argparse.Namespace, port: int) -> dict[str, Any]:
    """endpoints.json for the driver, the Playground's configuration, and the incident webhook URL."""
    endpoints = {**box.endpoints(), "bot": f"http://localhost:{port}/api/messages", "anonymous": bool(args.anonymous)}
    if args.anonymous:
        from sandbox.playground import config_yaml

        # the Agents Playground's mocked tenant and people: the demo world's, so the bot serves them
        (SANDBOX_DIR / "playground.yml").write_text(config_yaml(box.world, "alice", f"28:{box.world.bot.client_id}", "SRE Consent"))
    (SANDBOX_DIR / "endpoints.json").write_text(json.dumps(endpoints, indent=2) + "\n")
    webhook = SANDBOX_DIR / "incident-webhook-url"  # a throwaway local secret, readable by this user only
    webhook.touch(mode=0o600)
    webhook.write_text(f"http://localhost:{port}/api/incidents?code={box.webhook_secret}\n")
    # Azure Monitor's Action Groups app in the sandbox Entra, for `driver alert` to get secure webhook tokens
    from .driver_plan import write_agent_files

    write_agent_files(box, SANDBOX_DIR, port)  # the agent app's credentials, for `driver plan` and your own agent
    action_groups = box.world.apps.get("action-groups")
    if action_groups is not None:
        credentials = SANDBOX_DIR / "action-groups.json"  # a throwaway local secret, readable by this user only
        credentials.touch(mode=0o600)
        credentials.write_text(json.dumps({"clientId": action_groups.client_id, "clientSecret": action_groups.secret}) + "\n")
    return endpoints


def _has_ipv6() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def cmd_driver(args: argparse.Namespace) -> None:
    path = SANDBOX_DIR / "endpoints.json"
    if running(SANDBOX_DIR) is None:
        print(NO_SANDBOX, file=sys.stderr)
        raise SystemExit(2)
    if not path.is_file():
        print("the sandbox is still starting: try again in a few seconds", file=sys.stderr)
        raise SystemExit(2)
    endpoints = json.loads(path.read_text())
    if getattr(args, "playground", None) and not endpoints.get("anonymous"):
        print("--playground needs the sandbox started with --anonymous (the Playground cannot sign)", file=sys.stderr)
        raise SystemExit(2)
    if endpoints.get("anonymous") and args.action not in ("alert", "watch") and not getattr(args, "playground", None):
        print(
            "the sandbox runs --anonymous, for the Agents Playground: the bot has no app id, so the sandbox Connector "
            "refuses its replies. Talk to it from the Playground, or restart the sandbox without --anonymous to use "
            "the driver.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    os.environ["SSL_CERT_FILE"] = endpoints["ca"]
    import aiohttp

    from .driver_cli import drive

    try:
        raise SystemExit(asyncio.run(drive(args, endpoints, SANDBOX_DIR)))
    except aiohttp.ClientConnectionError:  # it stopped (or was killed) since the check above
        print(NO_SANDBOX, file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:  # Ctrl-C ends `driver watch`
        raise SystemExit(0) from None


def add_commands(sub: Any) -> None:
    """Register `sandbox` and `driver` on the `sre-consent-bot` command line."""
    sb = sub.add_parser("sandbox", help="run the bot against loopback simulators of Entra, ARM and Teams")
    sb.add_argument("--port", type=int, help="port of the bot (default: PORT, else 3978)")
    sb.add_argument("--operation-seconds", type=float, default=3.0, help="how long simulated VM operations take")
    sb.add_argument(
        "--anonymous",
        action="store_true",
        help="run the bot without Bot Framework authentication (ANONYMOUS_ALLOWED, loopback only) for the "
        "Microsoft 365 Agents Playground, and write .sandbox/playground.yml for it",
    )
    sb.set_defaults(fn=cmd_sandbox)
    _add_driver(sub)


def _add_driver(sub: Any) -> None:
    """`driver say|approve|deny|grant|cancel|watch|install|uninstall|alert`: a demo user's (or Azure Monitor's) acts."""
    dr = sub.add_parser("driver", help="act as a demo user against a running sandbox")
    dsub = dr.add_subparsers(dest="action", required=True)
    say = dsub.add_parser("say", help="send a message mentioning the bot (in --channel: a new thread)")
    say.add_argument("text")
    say.add_argument("--wait", type=float, default=5.0, help="at most this many seconds to wait for the bot's answers")
    say.add_argument(
        "--playground",
        action="store_true",
        help="say it in the Agents Playground's group chat Ops (sandbox --anonymous), as a second person beside the Playground's own user",
    )
    say.add_argument(
        "--playground-url",
        default=PLAYGROUND_CONNECTOR,
        help=f"the Playground's Bot Connector, where the bot answers (default {PLAYGROUND_CONNECTOR}: its default port)",
    )
    for verb in CLICKS:
        p = dsub.add_parser(verb, help=f"click {CLICKS[verb]} on the newest plan card of the conversation (or on --plan ID)")
        p.add_argument("--wait", type=float, default=8.0, help="at most this many seconds to follow the thread")
    dsub.choices["deny"].add_argument("--reason", help="the reason typed in the card's box, shown with the denial")
    dsub.choices["grant"].add_argument(
        "--fallback",
        action="store_true",
        help="sign in through the token service's sign-in link instead of SSO (what Teams does when SSO fails)",
    )
    wa = dsub.add_parser("watch", help="follow a conversation's (or a plan's thread's) cards and replies live")
    wa.add_argument("--seconds", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    wa.add_argument("--history", action="store_true", help="print what is already there first, every version")
    for name, p in dsub.choices.items():
        p.add_argument(
            "--as",
            dest="user",
            default="carol",
            help="demo user: alice, bob, carol or mallory" + (" (watch: whose 1:1 chat --personal follows)" if name == "watch" else ""),
        )
        if name != "say":
            p.add_argument("--plan", help="the plan's id (any plan, finished ones included)")
        place = p.add_mutually_exclusive_group()
        place.add_argument("--chat", default=DEMO_CHAT, help=f"the group chat (default {DEMO_CHAT})")
        place.add_argument("--channel", action="store_true", help="the incidents channel (its threads)")
        place.add_argument("--approvals", action="store_true", help="the approvals channel (APPROVALS_CHANNEL, its threads)")
        place.add_argument("--personal", action="store_true", help="the user's 1:1 chat with the bot (no mention needed)")
    for verb, text in (
        ("install", "install the app for the user (personal scope): Teams tells the bot"),
        ("uninstall", "remove the app for the user: Teams tells the bot"),
    ):
        dsub.add_parser(verb, help=text).add_argument("--as", dest="user", default="carol", help="demo user")
    _add_alert(dsub)
    from .driver_plan import add_plan  # imports no aiohttp: the sandbox exports its CA later

    add_plan(dsub)
    dr.set_defaults(fn=cmd_driver)


def _add_alert(dsub: Any) -> None:
    al = dsub.add_parser("alert", help="play Azure Monitor: send an alert for VMs to /api/incidents")
    al.add_argument("--rule", required=True, help="alert rule name; response plans match on it")
    al.add_argument("--vm", action="append", required=True, help="target VM name (repeatable)")
    al.add_argument("--severity", default="Sev1", choices=["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"])
    al.add_argument("--resolved", action="store_true", help="send the Resolved notification")
    al.add_argument("--alert-id", help="the alert id (to resolve an earlier alert)")
    al.add_argument(
        "--secure",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="post through the secure webhook (an Entra token of the Action Groups app); the default "
        "when the sandbox offers it. --no-secure sends only the ?code= secret",
    )
    al.add_argument("--forged", action="store_true", help="post an alert Azure Monitor never fired (it cannot be confirmed)")
