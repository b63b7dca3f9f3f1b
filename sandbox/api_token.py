"""An app-only token for the bot's API from the sandbox Entra (client credentials, `<API_AUDIENCE>/.default`), as an
agent app or Azure Monitor's Action Groups app gets one in production. azure-identity is imported when called: the
command line registers the driver before `sandbox` exports its CA."""

from __future__ import annotations

from typing import Any


def api_token(app: dict[str, str], endpoints: dict[str, Any]) -> str:
    """`app` holds clientId and clientSecret; `endpoints` is the running sandbox's endpoints.json."""
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        endpoints["tenantId"],
        app["clientId"],
        app["clientSecret"],
        authority=endpoints["entra"],
        disable_instance_discovery=True,
        connection_verify=endpoints["ca"],
    )
    return str(credential.get_token(f"{endpoints['botAppIdUri']}/.default").token)
