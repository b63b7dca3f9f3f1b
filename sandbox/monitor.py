"""Azure Monitor's side of incident notifications: common-schema alert payloads, as an action group posts them.

`alert_payload` only builds a notification (a forged one, unless Azure Monitor fired it); `fire` and `resolve`
are the monitor emulation: they also keep the alert in Alerts Management (sandbox/alerts.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .world import VirtualMachine

if TYPE_CHECKING:
    from .alerts import AlertsManagement


def alert_payload(
    rule: str,
    vms: list[VirtualMachine],
    *,
    severity: str = "Sev1",
    resolved: bool = False,
    alert_id: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """A metric alert notification in the common alert schema (https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-common-schema)."""
    essentials = _essentials(rule, vms, severity=severity, resolved=resolved, alert_id=alert_id, description=description)
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": essentials, "alertContext": _metric_alert_context()}}


def _essentials(
    rule: str, vms: list[VirtualMachine], *, severity: str, resolved: bool, alert_id: str | None, description: str
) -> dict[str, Any]:
    """The schema's `essentials`: the alert's id, rule, severity, condition and targets."""
    sub = vms[0].subscription_id if vms else "00000000-0000-0000-0000-000000000000"
    now = datetime.now(UTC).isoformat()
    essentials: dict[str, Any] = {
        "alertId": alert_id or f"/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}",
        "alertRule": rule,
        "severity": severity,
        "signalType": "Metric",
        "monitorCondition": "Resolved" if resolved else "Fired",
        "monitoringService": "Platform",
        # Azure Monitor sends ARM ids lower-cased, under this exact key casing
        "alertTargetIDs": [vm.id.lower() for vm in vms],
        "configurationItems": [vm.name for vm in vms],
        "originAlertId": str(uuid.uuid4()),
        "firedDateTime": now,
        "description": description,
        "essentialsVersion": "1.0",
        "alertContextVersion": "1.0",
    }
    if resolved:
        essentials["resolvedDateTime"] = now
    return essentials


def _metric_alert_context() -> dict[str, Any]:
    """The `alertContext` of a metric alert (the schema's "Metric alerts" sample): CPU over 90% for 5 minutes."""
    return {
        "properties": None,
        "conditionType": "SingleResourceMultipleMetricCriteria",
        "condition": {
            "windowSize": "PT5M",
            "allOf": [
                {
                    "metricName": "Percentage CPU",
                    "operator": "GreaterThan",
                    "threshold": "90",
                    "timeAggregation": "Average",
                    "metricValue": 97.5,
                }
            ],
        },
    }


def fire(
    alerts: AlertsManagement, rule: str, vms: list[VirtualMachine], *, severity: str = "Sev1", description: str = ""
) -> dict[str, Any]:
    """Azure Monitor fires an alert: the alert instance exists in Alerts Management (so the Get By Id API finds it)
    and the notification the action group posts is returned."""
    payload = alert_payload(rule, vms, severity=severity, description=description)
    alerts.record(payload["data"]["essentials"])
    return payload


def resolve(alerts: AlertsManagement, alert_id: str) -> dict[str, Any] | None:
    """The alert's condition clears: it becomes Resolved in Alerts Management, with the same id, and the Resolved
    notification is returned (https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-common-schema)."""
    essentials = alerts.find(alert_id)
    if essentials is None:
        return None
    essentials = {**essentials, "monitorCondition": "Resolved", "resolvedDateTime": datetime.now(UTC).isoformat()}
    alerts.record(essentials)
    payload = alert_payload(
        essentials["alertRule"],
        [],
        severity=essentials["severity"],
        resolved=True,
        alert_id=essentials["alertId"],
        description=essentials.get("description", ""),
    )
    payload["data"]["essentials"].update(
        {k: essentials[k] for k in ("alertTargetIDs", "configurationItems", "originAlertId", "firedDateTime", "resolvedDateTime")}
    )
    return payload
