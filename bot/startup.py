"""What `serve` says about its own start: one line per problem, naming the setting to change, and one line when it
listens. A start-up problem is an operator's to fix, so it is said in their words (the setting), never as a
traceback; the cause is the failing call's first line, with object addresses and TLS context reprs left out."""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from .config import Settings
from .config.store import StoreSettings

_NOISE = re.compile(r" ssl:<[^>]*>| ssl:default|<[^<>]* object at 0x[0-9a-f]+>")


class StartupProblem(Exception):
    """The bot cannot start; the message is one line that names the setting and what to do."""


@contextmanager
def said_once(logger: str = "azure") -> Iterator[None]:
    """Hold an SDK's warnings for a start-up step: when the step fails, its one problem line says it all (the Azure
    identity SDK would log the same failure first, as a warning of its own)."""
    sdk = logging.getLogger(logger)
    level = sdk.level
    sdk.setLevel(logging.ERROR)
    try:
        yield
    finally:
        sdk.setLevel(level)


def cause(error: BaseException) -> str:
    """The failing call's first line, short: what a person needs to tell a typo from an outage."""
    text = _NOISE.sub("", str(error).strip().splitlines()[0] if str(error).strip() else "").strip()
    return (text or type(error).__name__)[:200]


def where_the_store_is(store: StoreSettings) -> str:
    """The settings that say where the store is, as an operator wrote them (never a key)."""
    if store.kind == "azure-tables":
        if store.connection_string:
            return f"STORE=azure-tables, AZURE_STORAGE_CONNECTION_STRING with {_endpoint_of(store.connection_string)}"
        return f"STORE=azure-tables, AZURE_STORAGE_ACCOUNT_URL={store.account_url}"
    return f"STORE=sqlite, STORE_PATH={store.path}"


def _endpoint_of(connection_string: str) -> str:
    """The part of a connection string that says where it points (TableEndpoint, else AccountName): never its key."""
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    for name in ("TableEndpoint", "AccountName"):
        if parts.get(name):
            return f"{name}={parts[name]}"
    return "no TableEndpoint or AccountName"


def store_problem(store: StoreSettings, error: BaseException) -> StartupProblem:
    where = where_the_store_is(store)
    if store.kind != "azure-tables":
        return StartupProblem(
            f"start-up error: the store cannot be opened ({where}): {cause(error)}; check that STORE_PATH names a file "
            "in a directory this user may write"
        )
    access = "the account key in it" if store.connection_string else "the agent identity's access to it (AZURE_CLIENT_ID)"
    return StartupProblem(f"start-up error: the store cannot be reached ({where}): {cause(error)}; check {access}")


def port_problem(setting: str, host: str, port: int, error: OSError, *, hint: str = "", host_setting: str = "HOST") -> StartupProblem:
    """A listener that cannot bind: its port taken or not allowed, or its address not one of this machine's."""
    if error.errno == errno.EADDRNOTAVAIL:
        return StartupProblem(
            f"start-up error: {host_setting}={host}: not an address of this machine; set {host_setting} to one of its "
            "addresses (0.0.0.0: all of them)"
        )
    what = {
        errno.EADDRINUSE: f"port {port} is already in use by another program",
        errno.EACCES: f"port {port} needs privileges this user lacks (ports below 1024)",
    }.get(error.errno or 0, f"cannot listen on {host}:{port}: {cause(error)}")
    return StartupProblem(f"start-up error: {setting}={port}: {what}; " + (hint or f"stop it, or set {setting} to a free port"))


def listening_line(settings: Settings, hosts: list[str] | str) -> str:
    """The one line `serve` prints once it listens: where, with which SDK adapter, on which store."""
    t = settings.teams
    loopback = all(h in ("127.0.0.1", "::1", "localhost") for h in ([hosts] if isinstance(hosts, str) else hosts))
    host = "localhost" if loopback else (hosts if isinstance(hosts, str) else ", ".join(hosts))
    auth = "ANONYMOUS (no Bot Framework authentication)" if t.anonymous_allowed and not t.app_id else f"app id {t.app_id}"
    return (
        f"listening on http://{host}:{t.port}/api/messages (BOT_SDK={t.bot_sdk}, {where_the_store_is(settings.store)}, "
        f"{auth}); Ctrl-C stops"
    )
