"""`sre-consent-bot`: serve, sandbox, driver, audit, check-config, manifest."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.cli import SANDBOX_DIR, add_commands

from .launch import dotenv_keys, load_env, serve, settings_or_exit


def cmd_serve(args: argparse.Namespace) -> None:
    settings = settings_or_exit(load_env(), serving=True, dotenv=dotenv_keys())
    serve(settings, settings.teams.host)


def cmd_check_config(args: argparse.Namespace) -> None:
    from .config_view import describe

    env = load_env()
    settings = settings_or_exit(env, serving=True, dotenv=dotenv_keys())
    print("configuration is valid; the bot would run with:")
    for line in describe(settings, env):
        print(f"  {line}")


def cmd_audit(args: argparse.Namespace) -> None:
    from .adapters.store.sqlite import SqliteStore

    if args.verify:
        cmd_audit_verify()
        return
    sandbox_store = SANDBOX_DIR / "bot.sqlite3"
    default = sandbox_store if sandbox_store.is_file() else Path("data/sre-consent-bot.sqlite3")
    store_path = Path(args.store or load_env().get("STORE_PATH") or default)
    if not store_path.is_file():
        print(f"no store at {store_path}", file=sys.stderr)
        raise SystemExit(2)
    since = _since(args.since) if args.since else None
    store = SqliteStore(store_path)
    events = asyncio.run(store.events(args.plan, since))
    store.close()
    if args.json:
        for e in events:
            print(
                json.dumps(
                    {
                        "at": e.at.isoformat(),
                        "plan": e.plan_id,
                        "actor": e.actor_name,
                        "actorId": e.actor,
                        "event": e.event,
                        "from": e.from_state,
                        "to": e.to_state,
                        "detail": e.detail,
                    }
                )
            )
        return
    if not events:
        print("no audit events match")
        return
    from .audit_table import table

    print("\n".join(table(events)))


def cmd_audit_verify() -> None:
    """Exit 1 naming each audit row rewritten after it was written (STORE=azure-tables; SQLite refuses any rewrite)."""
    from .bootstrap import make_broker, make_store

    settings = settings_or_exit(load_env())
    if settings.store.kind != "azure-tables":
        print("the SQLite audit is append-only: its triggers refuse UPDATE and DELETE")
        return

    async def check() -> list[str]:
        broker = make_broker(settings)
        store = make_store(settings, broker.runtime(settings.azure.storage_client_id))
        try:
            found = await store.rewritten_audit()  # type: ignore[union-attr]
        finally:
            await store.aclose()  # type: ignore[union-attr]
            await broker.close()
        return [
            f"{r.row_key} (plan {r.plan_id}, {r.event}): written {r.written.isoformat()}, rewritten {r.last_written.isoformat()}"
            for r in found
        ]

    rewritten = asyncio.run(check())
    for line in rewritten:
        print(f"audit row rewritten after it was written: {line}")
    if rewritten:
        raise SystemExit(1)
    print("no audit row was rewritten after it was written (deletions: see the storage account's StorageDelete logs)")


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
            package = build(load_env())
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
    add_commands(sub)  # sandbox and driver
    au = sub.add_parser("audit", help="print the audit trail")
    au.add_argument("--plan")
    au.add_argument("--since", help="ISO time or a duration like 30m, 2h, 7d")
    au.add_argument("--store", help="SQLite file (default: STORE_PATH, else the running sandbox's)")
    au.add_argument("--json", action="store_true", help="one JSON object per line")
    au.add_argument("--verify", action="store_true", help="STORE=azure-tables: list audit rows rewritten after they were written")
    au.set_defaults(fn=cmd_audit)
    mf = sub.add_parser("manifest", help="build or validate the Teams app package")
    msub = mf.add_subparsers(dest="action", required=True)
    mb = msub.add_parser("build", help="fill the manifest from configuration and write the .zip")
    mb.add_argument("--out", default="build/sre-consent-bot.zip")
    mv = msub.add_parser("validate", help="check a .zip, folder or manifest.json against the official schema and more")
    mv.add_argument("path", nargs="?", default="build/sre-consent-bot.zip")
    mf.set_defaults(fn=cmd_manifest)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `audit | head` ends quietly, as other command-line tools do
    args.fn(args)


if __name__ == "__main__":
    main()
