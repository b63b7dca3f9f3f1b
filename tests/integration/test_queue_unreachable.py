"""The alert queue unreachable: `/api/incidents` answers 503 (Azure Monitor retries it) and loses nothing already stored.

The incidents API takes the inbox as its typed dependency (bot/adapters/http/deps.py AlertInbox), so it runs here over
the real queue adapter with a real SDK client whose queue endpoint has nothing listening: no Azure, no mock.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.adapters.clock import SystemClock
from bot.adapters.http.incidents_api import IncidentsApi
from bot.adapters.queue_inbox import QueueInbox, clients
from bot.adapters.store.sqlite import SqliteStore
from bot.config import Settings
from bot.domain.incident import AlertAuth, parse_alert
from sandbox.monitor import alert_payload
from tests.azurite import DEV_ACCOUNT, DEV_KEY
from tests.net import free_port

SECRET = uuid.uuid4().hex


class NoTokens:
    """The secure webhook is not used here (the alert carries the ?code= secret)."""

    async def validate(self, token: str, audiences: list[str]) -> dict[str, Any]:
        raise AssertionError("no token expected")


async def never(key: str, payload: dict[str, Any], auth: str) -> None:
    raise AssertionError("nothing was queued, so nothing is processed")


async def test_an_alert_stored_but_not_queued_is_answered_503_and_kept_for_the_retry(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111",
            "DEFAULT_SUBSCRIPTION_ID": "00000000-0000-0000-0000-0000000000aa",
            "INCIDENT_WEBHOOK_SECRET": SECRET,
            "INCIDENT_ACCEPT_SECRET_ONLY": "true",
        }
    )
    dead = free_port()  # bound and released: nothing listens there
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};QueueEndpoint=http://127.0.0.1:{dead}/{DEV_ACCOUNT};"
    )
    store = SqliteStore(tmp_path / "store.sqlite3")
    queue, poison = clients("alerts-unreachable", connection_string=connection, retry_total=0)
    inbox = QueueInbox(store, queue, poison, never, SystemClock(), visibility_timeout=30)
    api = IncidentsApi(settings.api, NoTokens(), inbox)
    app = web.Application()
    app.router.add_post("/api/incidents", api.receive)
    payload = alert_payload("Disk almost full", [])
    key = parse_alert(payload).delivery_key(AlertAuth.SHARED_SECRET, payload)  # the URL secret's own key
    try:
        async with TestServer(app) as server, aiohttp.ClientSession() as session:
            async with session.post(server.make_url(f"/api/incidents?code={SECRET}"), json=payload) as r:
                assert r.status == 503  # Azure Monitor's action groups retry 408, 429, 503 and 504
                error = (await r.json())["error"]
            assert "alerts-unreachable could not be reached" in error and "send it again shortly" in error
        assert await inbox.alert_state(key) == ("pending", None)  # kept: the retry queues it again
    finally:
        await inbox.stop()
        store.close()
