"""What every command that starts or inspects the bot shares: settings from the environment and `.env`, and serving."""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .config import SETTINGS, ConfigError, Settings, unknown_settings
from .startup import StartupProblem, listening_line, port_problem


def load_env() -> dict[str, str]:
    """`.env` (if present in the working directory) overlaid by the real environment, which wins."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(".env").items() if v is not None} if Path(".env").is_file() else {}
    return {**values, **os.environ}


def dotenv_keys() -> list[str]:
    """The keys `.env` (in the working directory) sets, in its order."""
    from dotenv import dotenv_values

    return list(dotenv_values(".env")) if Path(".env").is_file() else []


def settings_or_exit(env: dict[str, str], *, serving: bool = False, dotenv: list[str] | None = None) -> Settings:
    """The validated settings, or every problem on stderr (one line each) and exit code 2. `dotenv`: the keys of the
    `.env` that `env` was read from, each of which must be a setting; on a fresh clone (no .env, no setting in the
    environment) the first line says how to start."""
    unknown = unknown_settings(dotenv or [], ".env")
    try:
        settings = Settings.from_env(env, serving=serving)
        if unknown:
            raise ConfigError(unknown)
        return settings
    except ConfigError as e:
        if not Path(".env").is_file() and not any(env.get(s.name, "").strip() for s in SETTINGS):
            print(FRESH_CLONE, file=sys.stderr)
        for problem in [*unknown, *(p for p in e.problems if p not in unknown)]:
            print(f"configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


FRESH_CLONE = (
    "no .env here and no setting in the environment: start from the example, `cp .env.example .env`, and fill it in "
    "(`make run` needs none of it: it runs the bot against the sandbox)"
)


def serve(
    settings: Settings,
    hosts: list[str] | str,
    on_ready: Callable[[Any], Awaitable[None]] | None = None,
    *,
    port_hint: str = "",
) -> None:
    """Run the bot's web app until interrupted: one line when it listens; a start-up problem is one line on stderr
    naming the setting (`port_hint`: what to do about a taken port, in the words of the command that started it)
    and exit code 2, never a traceback."""
    try:
        _serve(settings, hosts, on_ready, port_hint)
    except StartupProblem as problem:
        print(problem, file=sys.stderr)
        raise SystemExit(2) from None


def _first(hosts: list[str] | str) -> str:
    return hosts if isinstance(hosts, str) else hosts[0]


def _serve(settings: Settings, hosts: list[str] | str, on_ready: Callable[[Any], Awaitable[None]] | None, port_hint: str) -> None:
    from aiohttp import web

    from .adapters.observability import configure_tracing
    from .app import create_app
    from .bootstrap import bootstrap
    from .logs import configure

    configure(settings.observability.log_level)
    if settings.teams.anonymous_allowed:
        logging.getLogger("bot").warning(
            "ANONYMOUS_ALLOWED=true and no MicrosoftAppId: Bot Framework authentication is OFF, anyone who reaches "
            "/api/messages can act as anyone; listening on loopback only. Never run a real deployment like this."
        )
    configure_tracing(settings.observability.appinsights_connection_string)
    app = create_app(bootstrap(settings))
    if on_ready:
        app.on_startup.append(on_ready)
    # aiohttp calls `print` once every site listens: that is when the one line saying so is true
    listening = listening_line(settings, hosts)
    try:
        web.run_app(app, host=hosts, port=settings.teams.port, print=lambda _: print(listening, flush=True), access_log=None)
    except OSError as e:  # the sites are bound last, once the start-up above succeeded
        if e.errno not in BIND_ERRORS:
            raise
        raise port_problem("PORT", _first(hosts), settings.teams.port, e, hint=port_hint) from None


BIND_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)
