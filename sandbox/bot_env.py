"""The settings the sandbox runs the bot with: its own for everything that says where the bot connects and who it is,
and from the environment and `.env` only the settings that shape how it behaves.

A `.env` written for a real deployment (STORE=azure-tables, a real storage account, a real tenant) is what
`serve` reads; `make run` must not point the sandbox's bot at it. Settings outside `TAKEN` are ignored, and one
line names the ones that were set, so nobody wonders why their value had no effect."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.config import SETTINGS

# How the bot behaves, never where it connects or who it is: these the sandbox takes from the environment and .env
TAKEN = frozenset(
    {
        "PORT",
        "BOT_SDK",
        "LOG_LEVEL",
        "CARD_BUTTONS",
        "APPROVALS_REQUIRED",
        "ALLOW_SELF_APPROVAL",
        "ALLOW_GUESTS",
        "PLAN_EXPIRY_MINUTES",
        "CREDENTIALS_EXPIRY_MINUTES",
        "CREDENTIALS_ATTEMPTS",
        "INCIDENT_ACCEPT_SECRET_ONLY",
        "INCIDENT_AUTONOMOUS_REQUIRES_SECURE_WEBHOOK",
        "RATE_LIMIT_PERSON_PER_MINUTE",
        "RATE_LIMIT_CONVERSATION_PER_MINUTE",
        "RATE_LIMIT_API_PER_MINUTE",
        "OUTBOUND_TIMEOUT_SECONDS",
        "SWEEP_INTERVAL_SECONDS",
        "OUTBOX_MAX_ATTEMPTS",
        "OUTBOX_MAX_BACKOFF_SECONDS",
        "TEAMS_SENDS_PER_SECOND",
        "STORE_SQLITE_WAL",
        "EXECUTION_LEASE_SECONDS",
        "METRICS_PORT",
        "METRICS_HOST",
    }
)


def taken(env: Mapping[str, str]) -> dict[str, str]:
    """The settings of `env` (the environment over .env) the sandbox uses."""
    return {k: v for k, v in env.items() if k in TAKEN}


# The machine's CA bundle, often set system-wide: the sandbox trusts its own CA instead, which needs no mention
_UNSAID = frozenset({"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"})


def ignored(env: Mapping[str, str]) -> list[str]:
    """The settings set in `env` that the sandbox replaces with its own, in the catalogue's order."""
    return [s.name for s in SETTINGS if s.name not in TAKEN | _UNSAID and env.get(s.name, "").strip()]


def ignored_line(names: list[str]) -> str:
    """One line naming what the sandbox did not take, and where it does count."""
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return (
        f"make run: the sandbox supplies its own tenant, Teams, Azure and store settings, so it ignores {shown} from "
        "the environment and .env (`sre-consent-bot serve` uses them)"
    )


def bot_environment(box: Any, env: Mapping[str, str], *, anonymous: bool, port: int, store: Path) -> dict[str, str]:
    """The sandbox bot's settings: the simulators', then what `env` may change, then what the sandbox fixes."""
    bot = {
        "CARD_BUTTONS": "everyone",  # local Bot Framework clients such as the Agents Playground have no user-specific views
        # a plan left running by a killed sandbox is found interrupted within seconds of the next start, not a minute
        "EXECUTION_LEASE_SECONDS": "10",
        "SWEEP_INTERVAL_SECONDS": "5",
        **box.bot_environment(),
        **taken(env),
        "STORE_PATH": str(store),
        "ARM_POLLING_INTERVAL": "0.5",
        "PORT": str(port),
    }
    # plans asked where no approver can act go to the SRE team's Approvals channel: the sandbox Connector's, or with
    # --anonymous the Agents Playground's (its team is the demo world's, sandbox/playground.py)
    bot["APPROVALS_CHANNEL"] = box.world.approvals_channel.channel_id
    if anonymous:
        bot.update(box.anonymous_environment())
    return bot
