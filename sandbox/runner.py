"""Start the three simulators together and describe them for the bot and for people."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .arm import ArmSimulator
from .connector import ConnectorSimulator
from .entra import EntraSimulator
from .keys import KeySet
from .server import ServerThread
from .tls import SandboxTLS
from .world import World, demo_world


@dataclass
class Sandbox:
    """Entra, ARM and the Bot Connector on loopback HTTPS, sharing one demo world."""

    world: World
    tls: SandboxTLS
    keys: KeySet
    entra: EntraSimulator
    arm: ArmSimulator
    connector: ConnectorSimulator
    thread: ServerThread
    directory: Path
    webhook_secret: str = field(repr=False)

    @classmethod
    def start(cls, directory: Path, *, operation_seconds: float = 0.3, world: World | None = None,
              tls: SandboxTLS | None = None) -> Sandbox:
        """Serve each simulator on a free loopback port, with a CA created in `directory` unless `tls` is given."""
        world = world or demo_world()
        tls = tls or SandboxTLS.create(directory)
        keys = KeySet()
        entra = EntraSimulator(world, keys)
        arm = ArmSimulator(world, keys, operation_seconds=operation_seconds)
        connector = ConnectorSimulator(world)
        thread = ServerThread("sandbox")
        entra.base_url = f"https://localhost:{thread.serve(entra.app(), ssl_context=tls.server_context)}"
        arm.base_url = f"https://localhost:{thread.serve(arm.app(), ssl_context=tls.server_context)}"
        arm.audiences = {arm.base_url, arm.base_url + "/"}
        arm.issuer_base = entra.base_url
        connector.base_url = f"https://localhost:{thread.serve(connector.app(), ssl_context=tls.server_context)}"
        box = cls(world, tls, keys, entra, arm, connector, thread, directory, secrets.token_urlsafe(32))
        (directory / "response-plans.json").write_text(json.dumps(box.response_plans(), indent=2) + "\n")
        (directory / "api-callers.json").write_text(json.dumps(box.api_callers(), indent=2) + "\n")
        return box

    def stop(self) -> None:
        self.thread.stop()

    def response_plans(self) -> dict[str, object]:
        """Two demo incident response plans for the Incidents channel: one autonomous, one reviewed."""
        channel = self.world.channels[0]
        responders = [self.world.user(n).object_id for n in ("alice", "bob")]
        common = {"operation": "restart", "responders": responders, "scopes": [f"/subscriptions/{self.world.subscription_id}"],
                  "channel": {"id": channel.channel_id, "serviceUrl": self.connector.base_url}}
        return {"responsePlans": [
            {"name": "web-hung", "match": {"alertRules": ["Web * unresponsive*"], "severities": ["Sev0", "Sev1"]},
             "mode": "autonomous", **common},
            {"name": "high-cpu", "match": {"alertRules": ["High CPU*"]}, "mode": "review", **common},
        ]}

    def api_callers(self) -> dict[str, object]:
        """The agent app registered as a caller of POST /api/plans (any operation, the demo subscription)."""
        agent = self.world.agent
        return {"callers": [{"appId": agent.client_id, "name": "SRE Agent", "scopes": [f"/subscriptions/{self.world.subscription_id}"],
                             "operations": ["restart", "start", "powerOff", "deallocate", "redeploy"]}]}

    def bot_environment(self) -> dict[str, str]:
        """The settings that point the bot at this sandbox (the same names production uses)."""
        w = self.world
        return {
            "AZURE_TENANT_ID": w.home_tenant_id,
            "AZURE_CLIENT_ID": w.agent.client_id,
            "AZURE_CLIENT_SECRET": w.agent.secret,
            "AZURE_AUTHORITY_HOST": self.entra.base_url,
            "ARM_ENDPOINT": self.arm.base_url,
            "GRAPH_ENDPOINT": self.entra.base_url,
            "SSL_CERT_FILE": str(self.tls.ca_path),
            "REQUESTS_CA_BUNDLE": str(self.tls.ca_path),
            "MicrosoftAppId": "",
            "MicrosoftAppTenantId": w.home_tenant_id,
            "SSO_CLIENT_ID": w.bot.client_id,
            "SSO_CLIENT_SECRET": w.bot.secret,
            "SSO_APP_ID_URI": w.bot.app_id_uri or "",
            "ALLOWED_TENANTS": w.home_tenant_id,
            "DEFAULT_SUBSCRIPTION_ID": w.subscription_id,
            "DEFAULT_APPROVERS": ",".join(w.user(n).object_id for n in ("alice", "bob")),
            "TEAMS_SERVICE_URL": self.connector.base_url,
            "RESPONSE_PLANS_FILE": str(self.directory / "response-plans.json"),
            "INCIDENT_WEBHOOK_SECRET": self.webhook_secret,
            "API_CALLERS_FILE": str(self.directory / "api-callers.json"),
        }

    def endpoints(self) -> dict[str, Any]:
        """What `.sandbox/endpoints.json` holds: URLs, CA, tenant and the demo people (no secrets)."""
        w = self.world
        return {
            "entra": self.entra.base_url,
            "arm": self.arm.base_url,
            "connector": self.connector.base_url,
            "ca": str(self.tls.ca_path),
            "tenantId": w.home_tenant_id,
            "subscriptionId": w.subscription_id,
            "botAppIdUri": w.bot.app_id_uri,
            "groups": {g.name: g.object_id for g in w.groups},
            "agentClientId": w.agent.client_id,
            "users": {
                u.name: {"objectId": u.object_id, "tenantId": u.tenant_id, "upn": u.upn, "teamsId": u.teams_id}
                for u in w.users.values()
            },
        }

    def write_endpoints(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.endpoints(), indent=2) + "\n")
