"""`POST /api/incidents`: Azure Monitor action group webhooks (common alert schema).

Two ways in (https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups, webhook and secure webhook):

- **secure webhook**: the action group obtains an Entra access token for the bot's API as Azure Monitor's Action
  Groups app (`ACTION_GROUPS_APP_ID`) and sends `Authorization: Bearer <token>`. The token is validated like
  `/api/plans` tokens (signature, issuer, tenant, audience, expiry; v1 or v2), and must be app-only, hold the app
  role `INCIDENT_WEBHOOK_ROLE` (`ActionGroupsSecureWebhook`) and name the Action Groups app in `appid`/`azp`.
- **shared secret**: `?code=INCIDENT_WEBHOOK_SECRET`, accepted alone only with `INCIDENT_ACCEPT_SECRET_ONLY=true`
  (off by default: the URL travels in query strings that App Service logs and Readers of the action group see); such
  an alert never runs an autonomous plan at once while `INCIDENT_AUTONOMOUS_REQUIRES_SECURE_WEBHOOK` is on, and its
  "Resolved" withdraws plans only once Azure Monitor's Alerts Management API confirms it (bot/services/handle_alert.py).
  It is kept under a key of its own (`Alert.delivery_key`): it never uses up the secure webhook's key.

A request that carries a Bearer token is judged by the token alone (a bad token is not rescued by the secret).
The answer comes within milliseconds (the action group waits about 10 s and retries 408/429/503/504): the alert is
stored in the inbox and processed by the inbox worker (bot/adapters/inbox.py). 202 once it is stored (also for a
repeat of a delivery not processed yet: the inbox keeps one), 200 for a repeat of a delivery already processed, 400
for a payload that is not a common-schema alert, 401 for no or bad credentials, 403 for a valid token that is not
Azure Monitor's secure webhook, 404 when nothing is configured.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ...config import ApiSettings, PolicySettings
from ...domain.incident import AlertAuth, parse_alert
from ...services.deps import Deps
from ...services.handle_alert import handle_alert
from ..azure.tokens import TokenRejected
from ..inbox import InboxUnavailable
from .deps import AlertInbox, TokenValidator

log = logging.getLogger(__name__)
STATUS_PATH = "/api/incidents/status"


class IncidentsApi:
    def __init__(self, api: ApiSettings, validator: TokenValidator, inbox: AlertInbox) -> None:
        """`inbox`: the store's inbox table or the Storage Queue (bot/adapters/inbox.py, queue_inbox.py); it wakes its
        own worker once an alert is kept."""
        self.api, self.validator, self.inbox = api, validator, inbox

    async def receive(self, request: web.Request) -> web.Response:
        s = self.api
        if not s.incident_webhook_secret and not s.api_audience:
            return _error(
                404, "incident notifications are not configured (INCIDENT_WEBHOOK_SECRET, or API_AUDIENCE for the secure webhook)"
            )
        auth = await self._authenticate(request)
        if isinstance(auth, web.Response):
            return auth
        try:
            payload = await request.json()
            alert = parse_alert(payload)
        except ValueError as e:
            return _error(400, str(e))
        key = alert.delivery_key(auth, payload)
        try:
            stored = await self.inbox.accept(key, payload, auth.value)
        except InboxUnavailable as e:  # Azure Monitor retries a 503 (action groups: 408, 429, 503, 504)
            return _error(503, f"{e}; the alert was not accepted: send it again shortly")
        if stored == "done":
            return web.json_response({"alertId": alert.alert_id, "duplicate": True}, status=200)
        status_url = f"{STATUS_PATH}?{urlencode({'key': key})}"
        return web.json_response(
            {
                "alertId": alert.alert_id,
                "condition": alert.condition,
                "authentication": auth.value,
                "accepted": True,
                "inboxKey": key,
                "status": status_url,
            },
            status=202,
            headers={"Location": status_url},
        )

    async def status(self, request: web.Request) -> web.Response:
        """`GET /api/incidents/status?key=`: what processing a stored alert did (same authentication as the POST):
        200 with the outcome once processed (or given up), 202 while it waits in the inbox, 404 for an unknown key."""
        s = self.api
        if not s.incident_webhook_secret and not s.api_audience:
            return _error(404, "incident notifications are not configured")
        auth = await self._authenticate(request)
        if isinstance(auth, web.Response):
            return auth
        found = await self.inbox.alert_state(request.query.get("key", ""))
        if found is None:
            return _error(404, "no alert delivery with this key")
        state, outcome = found
        if state == "pending":
            return web.json_response({"status": "pending"}, status=202)
        return web.json_response({"status": state, **(outcome or {})}, status=200)

    async def _authenticate(self, request: web.Request) -> AlertAuth | web.Response:
        s = self.api
        header = request.headers.get("Authorization", "")
        if header:
            if not header.startswith("Bearer ") or not s.api_audience:
                return _error(401, "the Authorization header must carry the secure webhook's Bearer token for the bot's API")
            return await self._secure_webhook(header[7:])
        secret = s.incident_webhook_secret
        if not secret:
            return _error(401, "a secure webhook token is required: turn on the secure webhook in the action group")
        if not hmac.compare_digest(request.query.get("code", "").encode(), secret.encode()):
            return _error(401, "missing or wrong code")
        if not s.incident_accept_secret_only:
            return _error(
                401,
                "the webhook secret alone is not accepted here (INCIDENT_ACCEPT_SECRET_ONLY=false): turn "
                "on the secure webhook in the action group",
            )
        return AlertAuth.SHARED_SECRET

    async def _secure_webhook(self, token: str) -> AlertAuth | web.Response:
        """Azure Monitor's Action Groups app, app-only, holding the secure webhook role; 401/403 otherwise."""
        s = self.api
        try:
            claims: dict[str, Any] = await self.validator.validate(token, list(s.audiences))
        except TokenRejected as e:
            return _error(401, e.reason)
        # app-only: a delegated token has `scp`, and `idtyp` (when the optional claim is on) says "user"
        # https://learn.microsoft.com/entra/identity-platform/access-tokens (validate ... app-only)
        if "scp" in claims or claims.get("idtyp", "app") != "app":
            return _error(403, "only Azure Monitor's secure webhook may post alerts; this token acts for a signed-in user")
        app_id = str(claims.get("azp") or claims.get("appid") or "")  # v2: azp, v1: appid
        if app_id.lower() != s.action_groups_app_id.lower():
            return _error(403, f"app {app_id or '(no app id)'} is not Azure Monitor's Action Groups app (ACTION_GROUPS_APP_ID)")
        if s.incident_webhook_role not in (claims.get("roles") or []):
            return _error(
                403,
                f"the token lacks the app role {s.incident_webhook_role}: assign it to the Action "
                f"Groups service principal (infra/README.md)",
            )
        return AlertAuth.SECURE_WEBHOOK


def alert_processor(deps: Deps, policy: PolicySettings, api: ApiSettings) -> Callable[[str, dict[str, Any], str], Awaitable[None]]:
    """What the inbox worker does with each stored alert: the handle_alert use case, marking the entry done."""

    async def process(key: str, payload: dict[str, Any], auth: str) -> None:
        from cards.incident_card import incident_card  # the card models are imported with the first card

        alert = parse_alert(payload)
        outcome = await handle_alert(
            deps,
            alert,
            list(policy.response_plans),
            policy.consent,
            incident_card,
            AlertAuth(auth),
            api.autonomous_requires_secure_webhook,
            inbox_key=key,
        )
        log.info("alert %s (%s, %s) matched %s", alert.rule, alert.condition, auth, list(outcome.matched) or "no response plan")

    return process


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
