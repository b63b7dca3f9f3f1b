"""Azure Monitor alerts (common alert schema) and the incident response plans that answer them."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase
from typing import Any

from .entries import entries, scopes_within, strings, whole_number
from .follow_up import FollowUp, parse_own
from .markdown import literal
from .operations import OperationSpec, ParamError, Parameters, by_key, parse_parameters
from .plan import Mode
from .resources import ResourceRef
from .scope import Scope

SCHEMA_ID = "azureMonitorCommonAlertSchema"
DEFAULT_MAX_TARGETS = 5
SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")


class AlertAuth(str, Enum):
    """How a notification proved it came from Azure Monitor."""

    # an Entra token Azure Monitor's Action Groups obtained for the bot's API, with the secure webhook app role
    SECURE_WEBHOOK = "secure_webhook"
    # only the shared ?code= secret in the URL: anyone who learns the URL can send it
    SHARED_SECRET = "shared_secret"


class AlertStatus(str, Enum):
    """What Azure Monitor's Alerts Management API says of an alert id."""

    FIRED = "fired"
    RESOLVED = "resolved"
    NOT_FOUND = "not_found"  # no such alert: forged, or from another subscription
    UNAVAILABLE = "unavailable"  # could not ask (refused, throttled, down)


@dataclass(frozen=True)
class AlertCheck:
    """Azure Monitor's own record of an alert, read with the agent identity before an autonomous plan acts."""

    status: AlertStatus
    target: str = ""  # essentials.targetResource: the resource the alert fired on
    detail: str = ""  # why it could not be read (safe to show: never a token)


# An alert id as Azure Monitor issues it (common schema essentials.alertId); anything else never reaches an ARM path.
ALERT_ID = re.compile(r"^/subscriptions/[0-9a-f-]{36}/providers/microsoft\.alertsmanagement/alerts/[0-9a-f-]{36}$", re.IGNORECASE)


def autonomy_withheld(auth: AlertAuth, requires_secure: bool, check: AlertCheck | None, targets: list[ResourceRef]) -> str | None:
    """Why an autonomous response plan must wait for a responder instead of acting at once (None: it may act).

    `check` is Azure Monitor's record of the alert (None when the authentication already withholds autonomy).
    """
    if auth is AlertAuth.SHARED_SECRET and requires_secure:
        return (
            "This alert carried only the webhook secret, not Azure Monitor's secure webhook token, so the "
            "autonomous response plan waits for a responder's approval. To let it act at once, turn on "
            '"Enable the secure webhook" in the action group.'
        )
    if check is None or check.status is AlertStatus.UNAVAILABLE:
        detail = f" ({literal(check.detail)})" if check and check.detail else ""
        return (
            f"The alert could not be confirmed with Azure Monitor{detail}, so the autonomous response plan "
            "waits for a responder's approval. Check the alert in the Azure portal before approving."
        )
    if check.status is AlertStatus.NOT_FOUND:
        return (
            "The alert could not be confirmed: Azure Monitor knows no alert with this id. It may be forged; "
            "the autonomous response plan waits for a responder's approval. Check the alert in the Azure "
            "portal before approving."
        )
    if check.status is AlertStatus.RESOLVED:
        return (
            "The alert could not be confirmed as firing: Azure Monitor reports it resolved, so the autonomous "
            "response plan waits for a responder's approval."
        )
    target = check.target.lower()
    others = [t.display for t in targets if t.id.lower() != target]
    if others:
        return (
            f"The alert could not be confirmed for {', '.join(others)}: Azure Monitor's alert fired on "
            f"{literal(check.target.rsplit('/', 1)[-1]) or 'another resource'}, so the autonomous response plan waits "
            "for a responder's approval."
        )
    return None


@dataclass(frozen=True)
class Alert:
    """The parts of an alert notification the bot acts on."""

    alert_id: str
    rule: str
    severity: str
    condition: str  # Fired | Resolved
    targets: tuple[str, ...]
    fired_at: str
    description: str
    signal_type: str

    @property
    def key(self) -> str:
        """Azure Monitor retries deliveries: one key per alert and condition."""
        return f"{self.alert_id}|{self.condition}"

    def delivery_key(self, auth: AlertAuth, payload: Any) -> str:
        """The inbox key of one delivery, so that a repeat acts once but a lower-trust delivery never uses up the key of
        a higher-trust one: the secure webhook keeps `alertId|condition`; a delivery with only the URL secret (which
        anyone who saw the URL can forge) is keyed apart, by its exact content as well, since Azure Monitor's retries
        repeat the same notification: a forged "Resolved" naming a real alert id then takes neither the secure
        webhook's key nor that of the genuine notification sent later through the same URL."""
        if auth is AlertAuth.SECURE_WEBHOOK:
            return self.key
        content = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]
        return f"{self.key}|{auth.value}|{content}"

    def targets_of(self, type_name: str) -> list[ResourceRef]:
        """The targets of one catalog type (a web app's alert targets the web app); ids of other types, and ids that
        break Azure's naming rules, are left out (they reach no ARM path)."""
        refs = []
        for t in self.targets:
            try:
                ref = ResourceRef.parse(t)
            except ValueError:
                continue
            if ref.type.lower() == type_name.lower():
                refs.append(ref)
        return refs

    def vm_targets(self) -> list[ResourceRef]:
        return self.targets_of("Microsoft.Compute/virtualMachines")


def parse_alert(payload: Any) -> Alert:
    """Parse a common-schema notification; raises ValueError listing every problem."""
    problems: list[str] = []
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    if payload.get("schemaId") != SCHEMA_ID:
        problems.append(f"schemaId must be {SCHEMA_ID!r} (turn on the common alert schema in the action group)")
    essentials = (payload.get("data") or {}).get("essentials") if isinstance(payload.get("data"), dict) else None
    if not isinstance(essentials, dict):
        raise ValueError("; ".join([*problems, "data.essentials is missing"]))
    fields = {k.lower(): v for k, v in essentials.items()}  # the schema's own docs disagree on key casing
    alert_id, rule, severity = fields.get("alertid"), fields.get("alertrule"), fields.get("severity")
    condition, targets = fields.get("monitorcondition"), fields.get("alerttargetids")
    if not isinstance(alert_id, str) or not alert_id:
        problems.append("data.essentials.alertId is required")
    if not isinstance(rule, str) or not rule:
        problems.append("data.essentials.alertRule is required")
    if severity not in SEVERITIES:
        problems.append(f"data.essentials.severity must be one of {', '.join(SEVERITIES)}")
    if condition not in ("Fired", "Resolved"):
        problems.append("data.essentials.monitorCondition must be Fired or Resolved")
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        problems.append("data.essentials.alertTargetIDs must be a list of resource ids")
    if problems:
        raise ValueError("; ".join(problems))
    return Alert(
        str(alert_id),
        str(rule),
        str(severity),
        str(condition),
        tuple(targets or ()),
        str(fields.get("fireddatetime") or ""),
        str(fields.get("description") or ""),
        str(fields.get("signaltype") or ""),
    )


@dataclass(frozen=True)
class ResponsePlan:
    """What to do when an alert matches: an operation of the catalog on its targets of that type, posted in a channel."""

    name: str
    rules: tuple[str, ...]  # alert rule name patterns (fnmatch, case-insensitive)
    severities: frozenset[str]  # empty: any severity
    operation: OperationSpec
    mode: Mode
    channel_id: str
    service_url: str
    tenant_id: str
    responders: frozenset[str]
    scopes: tuple[Scope, ...]  # where it may act: within ALLOWED_SCOPES
    approvals_required: int = 1
    max_targets: int = DEFAULT_MAX_TARGETS  # resources acted on per alert, at most
    parameters: Parameters = ()  # the operation's parameters (a scale's capacity)
    follow_up: FollowUp | None = None  # its own reminders and escalation (None: the configured ones)

    def matches(self, alert: Alert) -> bool:
        rule = alert.rule.lower()
        return any(fnmatchcase(rule, p.lower()) for p in self.rules) and (not self.severities or alert.severity in self.severities)


def parse_response_plans(
    data: Any, default_service_url: str, default_tenant: str, allowed: tuple[Scope, ...], follow_up: FollowUp | None = None
) -> list[ResponsePlan]:
    """Parse the response plans file; raises ValueError naming the plan and field at fault.

    Each plan declares its `scopes` (inside `allowed`, i.e. ALLOWED_SCOPES) and may lower `maxTargets`, and may set
    its own reminders and escalation over `follow_up` (the configured ones).
    """
    plans = []
    for where, item in entries(data, "responsePlans", '{"responsePlans": [...]}'):
        name = item.get("name")
        where = f"response plan {name!r}" if isinstance(name, str) else where
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: name is required")
        rules, severities = _match(item.get("match") or {}, where)
        operation, parameters = _operation(item, where)
        try:
            mode = Mode(item.get("mode", "review"))
        except ValueError:
            raise ValueError(f"{where}: mode must be review or autonomous") from None
        channel = item.get("channel") or {}
        if not isinstance(channel, dict) or not str(channel.get("id", "")).startswith("19:"):
            raise ValueError(f"{where}: channel.id must be a Teams channel id (19:...@thread.tacv2)")
        responders = strings(
            item.get("responders") or [], where, "responders must list the Entra object ids who approve or lend credentials"
        )
        required = whole_number(
            item.get("approvalsRequired", 1), where, "approvalsRequired must be between 1 and the number of responders", 1, len(responders)
        )
        scopes = scopes_within(item.get("scopes"), allowed, where, "where it may act (/subscriptions/<id>[/resourceGroups/<group>])")
        cap = whole_number(item.get("maxTargets", DEFAULT_MAX_TARGETS), where, "maxTargets must be a whole number from 1 to 50", 1, 50)
        plans.append(
            ResponsePlan(
                name=name,
                rules=tuple(rules),
                severities=frozenset(severities),
                operation=operation,
                mode=mode,
                channel_id=str(channel["id"]),
                service_url=str(channel.get("serviceUrl") or default_service_url),
                tenant_id=str(channel.get("tenantId") or default_tenant),
                responders=frozenset(responders),
                scopes=scopes,
                approvals_required=required,
                max_targets=cap,
                parameters=parameters,
                follow_up=parse_own(item, follow_up or FollowUp(), where),
            )
        )
    return plans


def _operation(item: dict[str, Any], where: str) -> tuple[OperationSpec, Parameters]:
    """A response plan's `operation` (`<resource type>/<operation>`, or a plain word for the VM operation) and its
    `parameters`, bounded as the catalog bounds them."""
    try:
        operation = by_key(str(item.get("operation", "")))
        raw = item.get("parameters") or {}
        if not isinstance(raw, dict):
            raise ValueError("parameters must be an object of the operation's parameters")
        return operation, parse_parameters(operation.params, raw)
    except ParamError as e:
        raise ValueError(f"{where}: parameters.{e.name}: {e.message}") from None
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _match(match: Any, where: str) -> tuple[list[str], list[str]]:
    """A response plan's `match`: its alert rule name patterns, and the severities (empty: any)."""
    rules = strings(
        match.get("alertRules") if isinstance(match, dict) else None,
        where,
        "match.alertRules must be a non-empty list of rule name patterns",
    )
    severities = match.get("severities") or []
    if not isinstance(severities, list) or any(s not in SEVERITIES for s in severities):
        raise ValueError(f"{where}: match.severities must list values among {', '.join(SEVERITIES)}")
    return rules, severities
