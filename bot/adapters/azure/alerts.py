"""Azure Monitor's Alerts Management API: is this alert real, still firing, and on which resource?

`GET {ARM}{alertId}?api-version=2023-07-12-preview`, where the common schema's `essentials.alertId` is the alert's
ARM id (`/subscriptions/<sub>/providers/Microsoft.AlertsManagement/alerts/<guid>`); the answer's
`properties.essentials` has `monitorCondition` (Fired or Resolved) and `targetResource`
(https://learn.microsoft.com/rest/api/monitor/alertsmanagement/alerts/get-by-id). Read with the agent identity,
which needs `Microsoft.AlertsManagement/alerts/read` (Reader or Monitoring Reader on the subscription).
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from azure.core.exceptions import ClientAuthenticationError

from ...domain.incident import ALERT_ID, AlertCheck, AlertStatus
from .outbound import OutboundSession

log = logging.getLogger(__name__)
API_VERSION = "2023-07-12-preview"


class ArmAlerts:
    """AlertsReader port over ARM, with an azure-core async token credential."""

    def __init__(self, endpoint: str, credential: Any, ca_bundle: str | None = None, session: OutboundSession | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._credential = credential
        self._http = session or OutboundSession(ca_bundle)

    async def get(self, alert_id: str) -> AlertCheck:
        if not ALERT_ID.match(alert_id):  # never put a caller's string into an ARM path unless it is an alert id
            return AlertCheck(AlertStatus.NOT_FOUND, detail="not an Azure Monitor alert id")
        try:
            token = await self._credential.get_token(f"{self.endpoint}/.default")
        except ClientAuthenticationError as e:
            log.warning("the agent identity could not get an ARM token to read alert %s: %s", alert_id, type(e).__name__)
            return AlertCheck(AlertStatus.UNAVAILABLE, detail="the agent identity could not sign in to Azure")
        try:
            async with self._http.request(
                "GET", f"{self.endpoint}{alert_id}", params={"api-version": API_VERSION}, headers={"Authorization": f"Bearer {token.token}"}
            ) as r:
                if r.status == 404:
                    return AlertCheck(AlertStatus.NOT_FOUND)
                if r.status in (401, 403):
                    log.warning(
                        "ARM answered %d to reading alert %s: the agent identity needs "
                        "Microsoft.AlertsManagement/alerts/read (Reader or Monitoring Reader)",
                        r.status,
                        alert_id,
                    )
                    return AlertCheck(AlertStatus.UNAVAILABLE, detail="the agent identity may not read Azure Monitor alerts")
                if r.status != 200:
                    return AlertCheck(AlertStatus.UNAVAILABLE, detail=f"Azure answered HTTP {r.status}")
                body = await r.json()
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            log.warning("reading alert %s failed: %s", alert_id, type(e).__name__)
            return AlertCheck(AlertStatus.UNAVAILABLE, detail="Azure could not be reached")
        essentials = ((body or {}).get("properties") or {}).get("essentials") or {}
        condition = str(essentials.get("monitorCondition", ""))
        target = str(essentials.get("targetResource", ""))
        if condition == "Fired":
            return AlertCheck(AlertStatus.FIRED, target=target)
        if condition == "Resolved":
            return AlertCheck(AlertStatus.RESOLVED, target=target)
        return AlertCheck(AlertStatus.UNAVAILABLE, detail="Azure Monitor's answer has no monitor condition")
