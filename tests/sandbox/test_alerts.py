"""Azure Monitor's Alerts Management API on the ARM simulator, read by the bot's own adapter with the agent identity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import requests
from azure.identity.aio import ClientSecretCredential

from bot.adapters.azure.alerts import API_VERSION, ArmAlerts
from bot.domain.incident import AlertStatus
from sandbox import Sandbox
from sandbox.monitor import alert_payload, fire, resolve


def _credential(box: Sandbox, app_name: str) -> ClientSecretCredential:
    app = box.world.apps[app_name]
    return ClientSecretCredential(
        box.world.home_tenant_id, app.client_id, app.secret, authority=box.entra.base_url, disable_instance_discovery=True
    )


@pytest.fixture
async def alerts(sandbox: Sandbox) -> AsyncIterator[ArmAlerts]:
    async with _credential(sandbox, "sre-agent") as cred:
        yield ArmAlerts(sandbox.arm.base_url, cred, str(sandbox.tls.ca_path))


def _vm(box: Sandbox, name: str) -> Any:
    return next(v for v in box.world.vms if v.name == name)


async def test_an_alert_the_monitor_fired_is_found_firing_on_its_target(sandbox: Sandbox, alerts: ArmAlerts) -> None:
    payload = fire(sandbox.arm.alerts, "Web tier unresponsive", [_vm(sandbox, "web-01")])
    check = await alerts.get(payload["data"]["essentials"]["alertId"])
    assert check.status is AlertStatus.FIRED
    assert check.target == _vm(sandbox, "web-01").id.lower()


async def test_a_resolved_alert_reads_resolved_and_an_unknown_one_404(sandbox: Sandbox, alerts: ArmAlerts) -> None:
    alert_id = fire(sandbox.arm.alerts, "High CPU", [_vm(sandbox, "dev-01")])["data"]["essentials"]["alertId"]
    resolved = resolve(sandbox.arm.alerts, alert_id)
    assert resolved is not None and resolved["data"]["essentials"]["monitorCondition"] == "Resolved"
    assert (await alerts.get(alert_id)).status is AlertStatus.RESOLVED
    forged = alert_payload("High CPU", [_vm(sandbox, "dev-01")])["data"]["essentials"]["alertId"]
    assert (await alerts.get(forged)).status is AlertStatus.NOT_FOUND
    # a string that is not an alert id never reaches an ARM path
    before = len(sandbox.arm.requests)
    assert (await alerts.get("/subscriptions/x/../../providers/Microsoft.Compute/virtualMachines/web-01")).status is AlertStatus.NOT_FOUND
    assert len(sandbox.arm.requests) == before


async def test_the_wire_format_follows_get_by_id(sandbox: Sandbox) -> None:
    payload = fire(sandbox.arm.alerts, "Web tier unresponsive", [_vm(sandbox, "web-02")], severity="Sev0")
    alert_id = payload["data"]["essentials"]["alertId"]
    async with _credential(sandbox, "sre-agent") as cred:
        token = (await cred.get_token(f"{sandbox.arm.base_url}/.default")).token
    url, headers = f"{sandbox.arm.base_url}{alert_id}", {"Authorization": f"Bearer {token}"}
    r = requests.get(url, params={"api-version": API_VERSION}, headers=headers, verify=str(sandbox.tls.ca_path), timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == alert_id and body["type"] == "Microsoft.AlertsManagement/alerts"
    essentials = body["properties"]["essentials"]
    assert (essentials["monitorCondition"], essentials["severity"], essentials["alertRule"]) == ("Fired", "Sev0", "Web tier unresponsive")
    assert essentials["targetResourceName"] == "web-02" and essentials["targetResourceGroup"] == "prod-rg"
    missing = requests.get(url, headers=headers, verify=str(sandbox.tls.ca_path), timeout=10)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"


async def test_reading_alerts_needs_the_read_action_at_the_subscription(sandbox: Sandbox) -> None:
    alert_id = fire(sandbox.arm.alerts, "High CPU", [_vm(sandbox, "dev-01")])["data"]["essentials"]["alertId"]
    async with _credential(sandbox, "unlisted-app") as cred:  # an app with no Azure role at all
        check = await ArmAlerts(sandbox.arm.base_url, cred, str(sandbox.tls.ca_path)).get(alert_id)
        token = (await cred.get_token(f"{sandbox.arm.base_url}/.default")).token
    assert check.status is AlertStatus.UNAVAILABLE and "may not read" in check.detail
    r = requests.get(
        f"{sandbox.arm.base_url}{alert_id}",
        params={"api-version": API_VERSION},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(sandbox.tls.ca_path),
        timeout=10,
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed"
    assert "Microsoft.AlertsManagement/alerts/read" in r.json()["error"]["message"]


async def test_other_processes_fire_and_resolve_through_the_sandbox_controls(sandbox: Sandbox) -> None:
    ca = str(sandbox.tls.ca_path)
    fired = requests.post(
        f"{sandbox.arm.base_url}/sandbox/alerts",
        verify=ca,
        timeout=10,
        json={"rule": "Web tier unresponsive", "targets": [_vm(sandbox, "web-01").id]},
    )
    assert fired.status_code == 201
    alert_id = fired.json()["data"]["essentials"]["alertId"]
    assert sandbox.arm.alerts.find(alert_id) is not None
    resolved = requests.post(f"{sandbox.arm.base_url}/sandbox/alerts/resolve", json={"alertId": alert_id}, verify=ca, timeout=10)
    assert resolved.status_code == 200 and resolved.json()["data"]["essentials"]["monitorCondition"] == "Resolved"
    bad = requests.post(f"{sandbox.arm.base_url}/sandbox/alerts", json={"rule": "x", "targets": ["nope"]}, verify=ca, timeout=10)
    assert bad.status_code == 400


async def test_the_alerts_api_and_graph_share_one_session_whose_connections_are_reused(sandbox: Sandbox) -> None:
    """A session per call opened a TCP and TLS connection per call (and the memory each leaves behind); the shared
    session opens one per host and reuses it."""
    import aiohttp

    from bot.adapters.azure.graph import GraphDirectory
    from bot.adapters.azure.outbound import OutboundSession

    opened: list[str] = []
    trace = aiohttp.TraceConfig()

    async def on_create(session: Any, context: Any, params: Any) -> None:
        opened.append("connection")

    trace.on_connection_create_end.append(on_create)
    session = OutboundSession(str(sandbox.tls.ca_path), trace_configs=[trace])
    alert_id = fire(sandbox.arm.alerts, "High CPU", [_vm(sandbox, "dev-01")])["data"]["essentials"]["alertId"]
    async with _credential(sandbox, "sre-agent") as cred:
        alerts = ArmAlerts(sandbox.arm.base_url, cred, session=session)
        directory = GraphDirectory(sandbox.entra.base_url, cred, session=session)
        group, alice = sandbox.world.groups[0].object_id, sandbox.world.user("alice").object_id
        for _ in range(10):
            assert (await alerts.get(alert_id)).status is AlertStatus.FIRED
            assert await directory.is_member(alice, group) is True
        await session.close()
    assert len(opened) == 2  # one to ARM, one to Graph, each reused nine times
