"""Azure Monitor's side of incident notifications: common-schema alert payloads, as an action group posts them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from .world import VirtualMachine


def alert_payload(rule: str, vms: list[VirtualMachine], *, severity: str = "Sev1", resolved: bool = False,
                  alert_id: str | None = None, description: str = "") -> dict[str, Any]:
    """A metric alert notification in the common alert schema (reference/protocols.md §5.1)."""
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
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": essentials,
            "alertContext": {"properties": None, "conditionType": "SingleResourceMultipleMetricCriteria",
                             "condition": {"windowSize": "PT5M", "allOf": [{"metricName": "Percentage CPU",
                                           "operator": "GreaterThan", "threshold": "90", "timeAggregation": "Average",
                                           "metricValue": 97.5}]}},
        },
    }
