"""Entra and Azure: the agent identity, the Azure endpoints, the CAs to trust, and where the bot may act."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..domain.scope import Scope, parse_scopes
from .reader import Reader, declared

SETTINGS = declared("azure")


@dataclass(frozen=True)
class AzureSettings:
    tenant_id: str
    agent_client_id: str
    agent_client_secret: str = field(repr=False)
    storage_client_id: str  # the runtime's own managed identity for the store and the queue ("": the agent identity)
    authority_host: str
    arm_endpoint: str
    arm_polling_interval: float | None
    graph_endpoint: str
    ca_bundle: str | None
    default_subscription_id: str
    allowed_scopes: tuple[Scope, ...]

    @classmethod
    def read(cls, r: Reader) -> AzureSettings:
        tenant_id = r.guid("AZURE_TENANT_ID")
        ca = r.get("SSL_CERT_FILE") or r.get("REQUESTS_CA_BUNDLE") or None
        if ca and not Path(ca).is_file():
            r.bad(f"SSL_CERT_FILE={ca!r} is invalid: expected the path of a PEM file that exists")
        default_subscription = r.guid("DEFAULT_SUBSCRIPTION_ID")
        return cls(
            tenant_id=tenant_id,
            agent_client_id=r.guid("AZURE_CLIENT_ID"),
            agent_client_secret=r.get("AZURE_CLIENT_SECRET"),
            storage_client_id=r.guid("AZURE_STORAGE_CLIENT_ID"),
            authority_host=r.url("AZURE_AUTHORITY_HOST"),
            arm_endpoint=r.url("ARM_ENDPOINT"),
            arm_polling_interval=r.optional_number("ARM_POLLING_INTERVAL", 0, integer=False),
            graph_endpoint=r.url("GRAPH_ENDPOINT"),
            ca_bundle=ca,
            default_subscription_id=default_subscription,
            allowed_scopes=_allowed_scopes(r, default_subscription),
        )


def _allowed_scopes(r: Reader, default_subscription: str) -> tuple[Scope, ...]:
    raw = r.get("ALLOWED_SCOPES") or (f"/subscriptions/{default_subscription}" if default_subscription else "")
    if not raw:
        return ()  # DEFAULT_SUBSCRIPTION_ID is missing or invalid: already said
    try:
        return parse_scopes(raw.split(","))
    except ValueError as e:
        r.bad(f"ALLOWED_SCOPES is invalid: {e}")
        return ()
