"""Azure Monitor's Alerts Management API, served by the ARM simulator: the alert instances the monitor fired.

`GET /subscriptions/<sub>/providers/Microsoft.AlertsManagement/alerts/<id>?api-version=...` answers the alert with
`properties.essentials` (`monitorCondition` Fired or Resolved, `targetResource`, `alertRule`, `severity`, ...) as
https://learn.microsoft.com/rest/api/monitor/alertsmanagement/alerts/get-by-id shows, and 404 for an id Azure
Monitor never issued. ARM authorizes the read at the scope the URL names, like any ARM request
(https://learn.microsoft.com/azure/role-based-access-control/overview#how-azure-rbac-determines-if-a-user-has-access-to-a-resource),
with the action `Microsoft.AlertsManagement/alerts/read`
(https://learn.microsoft.com/azure/role-based-access-control/permissions/monitor).

Alerts exist only once the monitor emulation (sandbox/monitor.py `fire`) fires them; `resolve` turns them Resolved.
Sandbox controls for other processes (`sre-consent-bot driver alert`): `POST /sandbox/alerts` fires an alert and
returns the notification an action group would post; `POST /sandbox/alerts/resolve` resolves one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import monitor
from .world import VirtualMachine

READ_ACTION = "Microsoft.AlertsManagement/alerts/read"
ALERT_PATH = re.compile(r"^/subscriptions/[^/]+/providers/microsoft\.alertsmanagement/alerts/[^/]+$", re.IGNORECASE)
_VM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute/"
    r"virtualmachines/(?P<vm>[^/]+)$",
    re.IGNORECASE,
)


@dataclass
class AlertsManagement:
    """Alert instances by lower-cased id, each kept as the common-schema essentials the monitor sent."""

    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, essentials: dict[str, Any]) -> None:
        self.alerts[str(essentials["alertId"]).lower()] = dict(essentials)

    def find(self, alert_id: str) -> dict[str, Any] | None:
        return self.alerts.get(alert_id.lower())

    def latest_fired(self, rule: str, targets: list[str]) -> str | None:
        """The id of the newest alert of `rule` still Fired on all of `targets`: the one whose condition clears next.
        A stateful alert is resolved, not replaced, when its condition clears: the fired instance becomes Resolved
        (https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-overview#alerts-and-state)."""
        wanted = {t.lower() for t in targets}
        for e in reversed(list(self.alerts.values())):
            on = {str(t).lower() for t in e.get("alertTargetIDs") or []}
            if e["alertRule"] == rule and e["monitorCondition"] == "Fired" and wanted <= on:
                return str(e["alertId"])
        return None

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/sandbox/alerts", self._fire_handler)
        app.router.add_post("/sandbox/alerts/resolve", self._resolve_handler)

    def response(self, path: str) -> web.Response:
        """The GET answer for an alert path (the caller has already been authorized)."""
        e = self.find(path)
        if e is None:
            # ARM's usual not-found error shape; the exact message for alerts is not documented
            return web.json_response(
                {"error": {"code": "ResourceNotFound", "message": f"The alert '{path.rsplit('/', 1)[-1]}' was not found."}}, status=404
            )
        target = str((e.get("alertTargetIDs") or [""])[0])
        name = path.rsplit("/", 1)[-1]
        essentials: dict[str, Any] = {
            "severity": e["severity"],
            "signalType": e.get("signalType", "Metric"),
            "alertState": "New",
            "monitorCondition": e["monitorCondition"],
            "monitorService": e.get("monitoringService", "Platform"),
            "targetResource": target,
            "targetResourceName": target.rsplit("/", 1)[-1],
            "targetResourceGroup": _group(target),
            "targetResourceType": "virtualmachines",
            "alertRule": e["alertRule"],
            "sourceCreatedId": e.get("originAlertId", ""),
            "startDateTime": e.get("firedDateTime", ""),
            "lastModifiedDateTime": e.get("resolvedDateTime") or e.get("firedDateTime", ""),
            "lastModifiedUserName": "System",
            "description": e.get("description", ""),
        }
        if e.get("resolvedDateTime"):
            essentials["monitorConditionResolvedDateTime"] = e["resolvedDateTime"]
        return web.json_response(
            {"properties": {"essentials": essentials}, "id": e["alertId"], "type": "Microsoft.AlertsManagement/alerts", "name": name}
        )

    async def _fire_handler(self, request: web.Request) -> web.Response:
        body = await request.json()
        vms = [_vm(t) for t in body.get("targets", [])]
        if not body.get("rule") or None in vms:
            return web.json_response({"error": "rule and targets (VM resource ids) are required"}, status=400)
        payload = monitor.fire(
            self,
            str(body["rule"]),
            [v for v in vms if v is not None],
            severity=str(body.get("severity", "Sev1")),
            description=str(body.get("description", "")),
        )
        return web.json_response(payload, status=201)

    async def _resolve_handler(self, request: web.Request) -> web.Response:
        """Resolve `alertId`, or else the newest alert of `rule` still fired on `targets`."""
        body = await request.json()
        alert_id = body.get("alertId") or self.latest_fired(str(body.get("rule", "")), [str(t) for t in body.get("targets") or []])
        payload = monitor.resolve(self, str(alert_id or ""))
        if payload is None:
            which = f"alert {alert_id}" if body.get("alertId") else f"fired alert of rule {body.get('rule')!r} on those VMs"
            return web.json_response({"error": f"no such {which}"}, status=404)
        return web.json_response(payload)


def _vm(resource_id: str) -> VirtualMachine | None:
    m = _VM_ID.match(str(resource_id))
    return VirtualMachine(m["sub"], m["rg"], m["vm"]) if m else None


def _group(resource_id: str) -> str:
    m = _VM_ID.match(resource_id)
    return m["rg"] if m else ""
