"""Who may approve, how many must, how long plans wait, who sees buttons, and the incident response plans."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from ..domain.consent import ConsentPolicy
from ..domain.follow_up import FollowUp
from ..domain.incident import ResponsePlan, parse_response_plans
from ..domain.scope import Scope
from ..domain.service_urls import UNTRUSTED_MESSAGE, ServiceUrlPolicy
from .reader import Reader, declared

SETTINGS = declared("policy")


@dataclass(frozen=True)
class PolicySettings:
    consent: ConsentPolicy
    allow_guests: bool
    buttons_for_everyone: bool
    response_plans: tuple[ResponsePlan, ...]
    approvals_channel: str = ""  # where plans asked where no approver can act are posted (empty: nowhere)

    @classmethod
    def read(cls, r: Reader, where: Where) -> PolicySettings:
        plans = r.json_file(
            "RESPONSE_PLANS_FILE",
            lambda data: tuple(parse_response_plans(data, where.service_url, where.tenant_id, where.scopes, where.follow_up)),
        )
        return cls(
            consent=ConsentPolicy(
                approvers=r.guids("DEFAULT_APPROVERS"),
                approver_group=r.guid("APPROVER_GROUP_ID") or None,
                approvals_required=int(r.number("APPROVALS_REQUIRED", 1)),
                allow_self_approval=r.boolean("ALLOW_SELF_APPROVAL"),
                expiry=timedelta(minutes=r.number("PLAN_EXPIRY_MINUTES", 1, integer=False)),
                credentials_expiry=timedelta(minutes=r.number("CREDENTIALS_EXPIRY_MINUTES", 1, integer=False)),
                credentials_attempts=int(r.number("CREDENTIALS_ATTEMPTS", 1)),
            ),
            allow_guests=r.boolean("ALLOW_GUESTS"),
            buttons_for_everyone=r.choice("CARD_BUTTONS", ("approvers", "everyone")).lower() == "everyone",
            response_plans=_trusted_channels(r, plans or (), where.trusted),
            approvals_channel=_approvals_channel(r),
        )


@dataclass(frozen=True)
class Where:
    """What response plans default to and are checked against, from the other groups."""

    service_url: str  # TEAMS_SERVICE_URL
    tenant_id: str  # the bot's home tenant
    scopes: tuple[Scope, ...]  # ALLOWED_SCOPES
    trusted: ServiceUrlPolicy  # the Bot Connector hosts the bot's token may go to
    follow_up: FollowUp = field(default_factory=FollowUp)  # what response plans' own reminders and escalation start from


def _approvals_channel(r: Reader) -> str:
    """A Teams channel id, as Teams sends it in `channelData.channel.id` (19:...@thread.tacv2, or @thread.skype)."""
    value = r.get("APPROVALS_CHANNEL")
    if value and not re.fullmatch(r"19:[^\s;/?#]+@thread\.[a-z0-9]+", value):
        r.bad(
            f"APPROVALS_CHANNEL={value[:80]!r} is invalid: expected a Teams channel id such as "
            "19:abc...@thread.tacv2 (Get link to channel in Teams shows it, URL-encoded)"
        )
        return ""
    return value


def _trusted_channels(r: Reader, plans: tuple[ResponsePlan, ...], policy: ServiceUrlPolicy) -> tuple[ResponsePlan, ...]:
    for p in plans:  # the bot's token goes to this host with every message of the incident thread
        if not policy.allows(p.service_url):
            r.bad(
                f"RESPONSE_PLANS_FILE={r.get('RESPONSE_PLANS_FILE')!r} is invalid: response plan "
                f"{p.name!r}: channel.serviceUrl {p.service_url!r} {UNTRUSTED_MESSAGE}"
            )
    return plans


def serving_problems(anonymous_ok: bool, policy: ConsentPolicy) -> list[str]:
    """What makes a valid configuration unable to work as a bot: no channel authentication, or a consent policy
    that no one can satisfy. `anonymous_ok`: MicrosoftAppId is set, or ANONYMOUS_ALLOWED asked for none."""
    problems = []
    if not anonymous_ok:
        problems.append(
            "MicrosoftAppId is required to serve: without it anyone could post activities as anyone "
            "(set ANONYMOUS_ALLOWED=true only for a local client such as the Agents Playground)"
        )
    if not policy.approvers and not policy.approver_group:
        problems.append(
            "DEFAULT_APPROVERS or APPROVER_GROUP_ID is required: with neither, nobody could approve a plan "
            "(expected comma-separated Entra object ids, or an Entra group id)"
        )
    elif not policy.approver_group and policy.approvals_required > len(policy.approvers):
        problems.append(
            f"APPROVALS_REQUIRED={policy.approvals_required} is invalid: only {len(policy.approvers)} "
            "approver(s) in DEFAULT_APPROVERS and no APPROVER_GROUP_ID, so no plan could ever be approved "
            "(expected at most the number of approvers)"
        )
    return problems
