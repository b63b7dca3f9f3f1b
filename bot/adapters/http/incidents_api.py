"""`POST /api/incidents`: Azure Monitor action group webhooks (common alert schema).

The action group calls the URL with the shared secret in `?code=`. The answer comes quickly (the
action group waits about 10 s and retries 408/429/503/504): 202 once the alert is handled, 200 for a
repeated delivery, 400 for a payload that is not a common-schema alert, 401 for a wrong secret.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web

from cards.incident_card import incident_card

from ...domain.incident import parse_alert
from ...services.handle_alert import handle_alert

log = logging.getLogger(__name__)


class IncidentsApi:
    def __init__(self, container: Any) -> None:
        self.c = container

    async def receive(self, request: web.Request) -> web.Response:
        secret = self.c.settings.incident_webhook_secret
        if not secret:
            return web.json_response({"error": "incident notifications are not configured (INCIDENT_WEBHOOK_SECRET)"}, status=404)
        if not hmac.compare_digest(request.query.get("code", "").encode(), secret.encode()):
            return web.json_response({"error": "missing or wrong code"}, status=401)
        try:
            alert = parse_alert(await request.json())
        except ValueError as e:
            return web.json_response({"error": str(e)}, status=400)
        outcome = await handle_alert(self.c.deps, alert, list(self.c.settings.response_plans), self.c.settings.policy,
                                     incident_card)
        if outcome.duplicate:
            return web.json_response({"alertId": alert.alert_id, "duplicate": True}, status=200)
        log.info("alert %s (%s) matched %s", alert.rule, alert.condition, list(outcome.matched) or "no response plan")
        return web.json_response({"alertId": alert.alert_id, "condition": alert.condition, "matched": list(outcome.matched),
                                  "plans": [{"id": p.id, "state": p.state.value} for p in outcome.plans]}, status=202)
