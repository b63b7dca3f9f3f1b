"""Start the simulators together and describe them for the bot and for people."""

from __future__ import annotations

import json
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .arm import ArmSimulator
from .bot_token import BOT_FRAMEWORK_RESOURCE, BotTokenCheck
from .channel import CHANNEL_TOKEN_ISSUER, ChannelIssuer
from .connector import ConnectorSimulator, kept
from .driver import TeamsDriver
from .entra import EntraSimulator
from .keys import KeySet
from .reprs import PrintsOwnRepr
from .server import ServerThread
from .tls import SandboxTLS
from .token_service import TokenService
from .world import World, demo_world


@dataclass
class Sandbox(PrintsOwnRepr):
    """Entra, ARM, the Bot Framework channel, Connector and token service on loopback HTTPS, sharing one demo world."""

    world: World
    tls: SandboxTLS
    keys: KeySet
    entra: EntraSimulator
    arm: ArmSimulator
    connector: ConnectorSimulator
    channel: ChannelIssuer
    token_service: TokenService
    thread: ServerThread
    directory: Path
    webhook_secret: str = field(repr=False)
    resumed: bool = False  # the Connector is back at its last address with the conversations it kept (keep=True)

    @classmethod
    def start(
        cls,
        directory: Path,
        *,
        operation_seconds: float = 0.3,
        world: World | None = None,
        tls: SandboxTLS | None = None,
        keep: bool = False,
        avoid: frozenset[int] = frozenset(),
    ) -> Sandbox:
        """Serve each simulator on a free loopback port, with a CA created in `directory` unless `tls` is given.

        `keep` (what `make run` asks): each simulator takes the port it had in the last run when it is free (never
        one in `avoid`: the bot's), and the Connector keeps its conversations in `directory`, as Teams keeps them, so
        plans stored by an earlier run (whose thread is on the Connector's URL) can still be told what happened."""
        box = cls._serve(directory, operation_seconds, world, tls, last_ports(directory) if keep else {}, avoid)
        if keep:
            box.resumed = box.keep_conversations()
        return box

    @classmethod
    def _serve(
        cls,
        directory: Path,
        operation_seconds: float,
        world: World | None,
        tls: SandboxTLS | None,
        wanted: dict[str, int],
        avoid: frozenset[int],
    ) -> Sandbox:
        world = world or demo_world()
        tls = tls or SandboxTLS.create(directory)
        keys = KeySet()
        entra = EntraSimulator(world, keys)
        arm = ArmSimulator(world, keys, operation_seconds=operation_seconds)
        bot_token = BotTokenCheck(world, keys)  # how the Connector and the token service check the bot's token
        connector = ConnectorSimulator(world, bot_token)
        channel = ChannelIssuer()  # keys of its own: the channel's keys are not Entra's
        # the OAuth connection of infra/app-registrations.json: Azure AD v2, the bot's own access_as_user
        token_service = TokenService(bot_token, entra, connections={"sso": world.bot.app_id_uri or ""})
        thread = ServerThread("sandbox")

        def url(name: str, app: Callable[[], web.Application]) -> str:
            return f"https://localhost:{_serve_on(thread, app, tls.server_context, wanted.get(name), avoid)}"

        entra.base_url = url("entra", entra.app)
        bot_token.issuer_base = entra.base_url
        arm.base_url = url("arm", arm.app)
        arm.audiences = {arm.base_url, arm.base_url + "/"}
        arm.issuer_base = entra.base_url
        connector.base_url = url("connector", connector.app)
        channel.base_url = url("channel", channel.app)
        token_service.base_url = url("tokenService", token_service.app)
        box = cls(world, tls, keys, entra, arm, connector, channel, token_service, thread, directory, secrets.token_urlsafe(32))
        (directory / "response-plans.json").write_text(json.dumps(box.response_plans(), indent=2) + "\n")
        # the agent posts into the demo channels and the group chat `driver plan` asks in by default (sandbox-demo)
        demo_chat = TeamsDriver.group_chat(world.home_tenant_id, "sandbox-demo").id
        (directory / "api-callers.json").write_text(json.dumps(box.api_callers(demo_chat), indent=2) + "\n")
        return box

    def keep_conversations(self) -> bool:
        """Keep the Connector's conversations in `directory` from now on; True when those of the last run came back
        (the Connector got its last address again, so what the bot stored still points at it)."""
        path = self.directory / KEPT_CONVERSATIONS
        resumed = last_ports(self.directory).get("connector") == _port_of(self.connector.base_url) and kept.load(self.connector, path)
        self.connector.kept_in = path
        kept.save(self.connector, path)
        ports = {name: _port_of(getattr(self, attr).base_url) for name, attr in SIMULATORS.items()}
        (self.directory / PORTS_FILE).write_text(json.dumps(ports) + "\n")
        return resumed

    def stop(self) -> None:
        self.thread.stop()

    def driver(self, bot_url: str) -> TeamsDriver:
        """A Teams driver for the bot at `bot_url` that signs its activities as the Teams service does."""
        return TeamsDriver(
            bot_url, self.connector.base_url, self.tls.client_context(), channel_url=self.channel.base_url, app_id=self.world.bot.client_id
        )

    def response_plans(self) -> dict[str, object]:
        """Two demo incident response plans for the Incidents channel: one autonomous, one reviewed."""
        channel = self.world.channels[0]
        responders = [self.world.user(n).object_id for n in ("alice", "bob")]
        common = {
            "operation": "restart",
            "responders": responders,
            "scopes": [f"/subscriptions/{self.world.subscription_id}"],
            "channel": {"id": channel.channel_id, "serviceUrl": self.connector.base_url},
        }
        return {
            "responsePlans": [
                {
                    "name": "web-hung",
                    "match": {"alertRules": ["Web * unresponsive*"], "severities": ["Sev0", "Sev1"]},
                    "mode": "autonomous",
                    **common,
                },
                {"name": "high-cpu", "match": {"alertRules": ["High CPU*"]}, "mode": "review", **common},
            ]
        }

    def api_callers(self, *targets: str) -> dict[str, object]:
        """The agent app registered as a caller of POST /api/plans (any operation, the demo subscription), posting into
        the demo channels (and `targets`, conversation or channel ids, if given)."""
        agent = self.world.agent
        return {
            "callers": [
                {
                    "appId": agent.client_id,
                    "name": "SRE Agent",
                    "scopes": [f"/subscriptions/{self.world.subscription_id}"],
                    "operations": ["*"],
                    "targets": [*(c.channel_id for c in self.world.channels), *targets],
                }
            ]
        }

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
            # the production Bot Framework authentication path: a real app id and secret, the channel's
            # tokens checked against the sandbox issuer, the bot's own token from the sandbox Entra
            "MicrosoftAppId": w.bot.client_id,
            "MicrosoftAppPassword": w.bot.secret,
            "MicrosoftAppType": "SingleTenant",
            "MicrosoftAppTenantId": w.home_tenant_id,
            "ToBotFromChannelOpenIdMetadataUrl": self.channel.metadata_url,
            "ToBotFromChannelTokenIssuer": CHANNEL_TOKEN_ISSUER,
            "ToChannelFromBotLoginUrl": f"{self.entra.base_url}/{w.home_tenant_id}",
            "ToChannelFromBotOAuthScope": BOT_FRAMEWORK_RESOURCE,
            "OAuthUrl": self.token_service.base_url,
            "SSO_CLIENT_ID": w.bot.client_id,
            "SSO_CLIENT_SECRET": w.bot.secret,
            "SSO_APP_ID_URI": w.bot.app_id_uri or "",
            "ALLOWED_TENANTS": w.home_tenant_id,
            "DEFAULT_SUBSCRIPTION_ID": w.subscription_id,
            "DEFAULT_APPROVERS": ",".join(w.user(n).object_id for n in ("alice", "bob")),
            "TEAMS_SERVICE_URL": self.connector.base_url,
            "RESPONSE_PLANS_FILE": str(self.directory / "response-plans.json"),
            "INCIDENT_WEBHOOK_SECRET": self.webhook_secret,
            # the plain webhook is off by default (INCIDENT_ACCEPT_SECRET_ONLY=false); the sandbox turns it on so the demo
            # and the tests can post alerts with the URL secret as well as through the secure webhook
            "INCIDENT_ACCEPT_SECRET_ONLY": "true",
            "API_CALLERS_FILE": str(self.directory / "api-callers.json"),
        }

    def anonymous_environment(self) -> dict[str, str]:
        """What `sandbox --anonymous` changes for clients that cannot sign activities (the Agents Playground)."""
        off = dict.fromkeys(
            (
                "MicrosoftAppId",
                "MicrosoftAppPassword",
                "ToBotFromChannelOpenIdMetadataUrl",
                "ToBotFromChannelTokenIssuer",
                "ToChannelFromBotLoginUrl",
                "ToChannelFromBotOAuthScope",
                "OAuthUrl",
            ),
            "",
        )
        return {**off, "ANONYMOUS_ALLOWED": "true"}

    def endpoints(self) -> dict[str, Any]:
        """What `.sandbox/endpoints.json` holds: URLs, CA, tenant and the demo people (no secrets)."""
        w = self.world
        return {
            "entra": self.entra.base_url,
            "arm": self.arm.base_url,
            "connector": self.connector.base_url,
            "channel": self.channel.base_url,
            "tokenService": self.token_service.base_url,
            "botAppId": w.bot.client_id,
            "ca": str(self.tls.ca_path),
            "tenantId": w.home_tenant_id,
            "subscriptionId": w.subscription_id,
            "botAppIdUri": w.bot.app_id_uri,
            "groups": {g.name: g.object_id for g in w.groups},
            "agentClientId": w.agent.client_id,
            "users": {
                u.name: {"objectId": u.object_id, "tenantId": u.tenant_id, "upn": u.upn, "teamsId": u.teams_id, "guestIn": u.guest_in}
                for u in w.users.values()
            },
        }

    def write_endpoints(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.endpoints(), indent=2) + "\n")


PORTS_FILE, KEPT_CONVERSATIONS = "ports.json", "conversations.json"
SIMULATORS = {"entra": "entra", "arm": "arm", "connector": "connector", "channel": "channel", "tokenService": "token_service"}


def last_ports(directory: Path) -> dict[str, int]:
    """The port each simulator had in the last run that kept its state in `directory` (none: {})."""
    try:
        ports = json.loads((directory / PORTS_FILE).read_text())
        return {str(k): int(v) for k, v in ports.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _serve_on(
    thread: ServerThread, app: Callable[[], web.Application], context: ssl.SSLContext, port: int | None, avoid: frozenset[int]
) -> int:
    """The port the app got: `port` when it is free (and not the bot's), else any free one."""
    if port and port not in avoid:
        try:
            return thread.serve(app(), port=port, ssl_context=context)
        except OSError:
            pass  # taken since the last run: a new address (the cli says what that means for stored plans)
    return thread.serve(app(), ssl_context=context)
