"""Signed callbacks: the event a plan's change wrote to the outbox, POSTed to its agent's callback URL.

The body is the CloudEvents 1.0 event in structured mode (`Content-Type: application/cloudevents+json`,
https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md), signed as the Standard Webhooks
specification says (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
`webhook-id` (the event's id, the same on every retry), `webhook-timestamp` (seconds since the epoch, when this attempt
is sent) and `webhook-signature` (`v1,` + base64 of HMAC-SHA256 over `id.timestamp.body` with the caller's secret),
computed by the `standardwebhooks` package. The secret comes from the environment variable the caller's entry names
(read at start-up), never from the callers file, and is never in the event.

Before every attempt the URL is checked again against the caller's current `callbackUrls`: nothing is sent anywhere
else, whatever was stored. Redirects are not followed. Any answer but 2xx, a timeout or a network error is tried again
(Standard Webhooks: every other status is a failure) by the outbox worker, with back-off and never sooner than a 429's
`Retry-After`, until CALLBACK_MAX_ATTEMPTS; then the event is a dead letter like any other outbox message.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from standardwebhooks.webhooks import Webhook

from ..domain.callers import ApiCaller, find_caller
from ..ports import OutboxMessage
from .delivery import TryAgain, Undeliverable

CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = "sre-consent-bot-callbacks/1"


class CallbackSender:
    """POSTs callback events, signed, to URLs their caller registered."""

    def __init__(
        self,
        callers: Sequence[ApiCaller],
        secrets: Mapping[str, str],
        *,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 8,
        first_retry: float = 5.0,
        max_retry_after: float = 300.0,
    ) -> None:
        self._callers, self._secrets = tuple(callers), secrets
        self._ssl: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_attempts, self.first_retry = max_attempts, first_retry
        self._max_retry_after = max_retry_after  # a receiver cannot park its plan's later events for ever
        self._session: aiohttp.ClientSession | None = None

    async def send(self, m: OutboxMessage) -> None:
        """One attempt; raises TryAgain (not taken: retried) or Undeliverable (never to be sent)."""
        payload = m.payload or {}
        url, app_id, event = payload.get("url"), str(payload.get("appId", "")), payload.get("event")
        caller = find_caller(self._callers, app_id)
        if caller is None:
            raise Undeliverable(f"app {app_id} is no longer registered in API_CALLERS_FILE")
        if not caller.callback_urls.allows(url) or not isinstance(event, dict):
            raise Undeliverable(f"the callback URL is no longer under the callbackUrls of {caller.name}")
        secret = self._secrets.get(caller.app_id)
        if secret is None:
            raise Undeliverable(f"{caller.name} has no callback secret (callbackSecretEnv)")
        assert isinstance(url, str)
        body = json.dumps(event, separators=(",", ":")).encode()
        event_id = str(event["id"])
        now = datetime.now(UTC)
        headers = {
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(event_id, now, body),
        }
        async with self._client().post(url, data=body, headers=headers, ssl=self._ssl, allow_redirects=False) as r:
            if 200 <= r.status < 300:
                return
            raise TryAgain(f"HTTP {r.status}", self._retry_after(r.headers.get("Retry-After")))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def _retry_after(self, header: str | None) -> float:
        """Seconds from a Retry-After header (delta-seconds or an HTTP date; RFC 9110 10.2.3), capped."""
        if not header:
            return 0.0
        try:
            seconds = float(header)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(header).timestamp() - time.time()
            except (TypeError, ValueError):
                return 0.0
        return min(max(0.0, seconds), self._max_retry_after)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
