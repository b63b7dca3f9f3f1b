"""The agent identity and, for one execution at a time, a user's On-Behalf-Of credential."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from azure.core.exceptions import ClientAuthenticationError

from ...domain.errors import CredentialProblem

SIGN_IN_AGAIN_CODES = {50076, 50079, 50074, 50158, 53000, 53001, 53003, 70043}
EXPIRED_CODES = {500133, 50013, 700082}


class LazyCredential:
    """An azure-identity async credential made on its first token request. Start-up need not import azure-identity
    (and msal under it): no first turn asks for an Azure token (docs/benchmarks.md, start-up). It answers what
    azure-core asks of a credential: `get_token`, `get_token_info`, `close`, and use as an async context manager."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._credential = make, None

    def _get(self) -> Any:
        if self._credential is None:
            self._credential = self._make()
        return self._credential

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return await self._get().get_token(*scopes, **kwargs)

    async def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        return await self._get().get_token_info(*scopes, options=options)

    async def close(self) -> None:
        if self._credential is not None:
            await self._credential.close()

    async def __aenter__(self) -> LazyCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AzureCredentialBroker:
    """CredentialBroker over azure-identity; the authority host and CA come from configuration."""

    def __init__(
        self,
        *,
        tenant_id: str,
        authority_host: str,
        agent_client_id: str | None,
        agent_client_secret: str | None,
        obo_client_id: str | None,
        obo_client_secret: str | None,
        user_scope: str,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.user_scope = user_scope
        # azure-core transport timeouts for every token request (otherwise a silent authority blocks forever)
        self._common: dict[str, Any] = {"authority": authority_host, "connection_timeout": timeout, "read_timeout": timeout}
        if ca_bundle:
            self._common["connection_verify"] = ca_bundle
        self._tenant_id = tenant_id
        self._runtime: Any = None
        self._obo_client_id, self._obo_secret = obo_client_id, obo_client_secret
        known_cloud = authority_host.rstrip("/").endswith(
            ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")
        )
        # instance discovery asks the public cloud about the authority; a private authority has no entry there
        self._discovery = {} if known_cloud else {"disable_instance_discovery": True}

        def make_agent() -> Any:
            from azure.identity.aio import ClientSecretCredential, ManagedIdentityCredential

            if agent_client_secret and agent_client_id:
                return ClientSecretCredential(tenant_id, agent_client_id, agent_client_secret, **self._common, **self._discovery)
            return ManagedIdentityCredential(client_id=agent_client_id or None, connection_timeout=timeout, read_timeout=timeout)

        self._agent = LazyCredential(make_agent)

    def agent(self) -> Any:
        return self._agent

    def runtime(self, client_id: str) -> Any:
        """The identity the bot's runtime reaches its own store and queue with: a user-assigned managed identity of its
        own (`client_id`), so the identity that acts on Azure cannot rewrite plans and audit, nor the runtime act on
        Azure; without one, the agent identity."""
        if not client_id:
            return self._agent
        if self._runtime is None:
            timeout = self._common["read_timeout"]

            def make_runtime() -> Any:
                from azure.identity.aio import ManagedIdentityCredential

                return ManagedIdentityCredential(client_id=client_id, connection_timeout=timeout, read_timeout=timeout)

            self._runtime = LazyCredential(make_runtime)
        return self._runtime

    @asynccontextmanager
    async def for_user(self, sso_token: str) -> AsyncIterator[Any]:
        """The user's rights for one execution; the credential and its token cache die with the block."""
        if not (self._obo_client_id and self._obo_secret):
            raise RuntimeError("On-Behalf-Of is not configured: set SSO_CLIENT_ID and SSO_CLIENT_SECRET")
        from azure.identity.aio import OnBehalfOfCredential

        credential = OnBehalfOfCredential(
            self._tenant_id,
            self._obo_client_id,
            client_secret=self._obo_secret,
            user_assertion=sso_token,
            **self._common,
            **self._discovery,
        )
        try:
            yield credential
        finally:
            await credential.close()
            del credential

    async def check(self, credential: Any) -> None:
        """Exchange the SSO token now (the result stays in this credential's cache for the run)."""
        try:
            await credential.get_token(self.user_scope)
        except ClientAuthenticationError as e:
            raise obo_problem(e, self._obo_client_id or "") from None

    async def close(self) -> None:
        await self._agent.close()
        if self._runtime is not None:
            await self._runtime.close()


def obo_problem(error: ClientAuthenticationError, client_id: str) -> CredentialProblem:
    """Map an Entra On-Behalf-Of error to what the user must do (never echoing any token)."""
    body: dict[str, Any] = {}
    try:
        body = json.loads(error.response.text()) if error.response is not None else {}
    except (ValueError, AttributeError):
        body = {}
    codes = set(body.get("error_codes") or [])
    aadsts = f" (AADSTS{min(codes)})" if codes else ""
    if body.get("error") == "interaction_required" or codes & SIGN_IN_AGAIN_CODES:
        return CredentialProblem(
            CredentialProblem.SIGN_IN_AGAIN,
            "Azure needs you to sign in again (multi-factor authentication or a conditional access policy)"
            f"{aadsts}. Sign out of Teams and back in, or open the Azure portal once, then click "
            "\u201cUse my credentials\u201d again. Nothing was done.",
        )
    if body.get("suberror") == "consent_required" or 65001 in codes:
        return CredentialProblem(
            CredentialProblem.CONSENT,
            f"No one has consented to let the bot's app ({client_id}) call Azure Resource Manager for you{aadsts}. "
            "An administrator must grant admin consent for the delegated permission Azure Service Management / "
            "user_impersonation to that app. Nothing was done.",
        )
    if codes & EXPIRED_CODES:
        return CredentialProblem(
            CredentialProblem.EXPIRED,
            f"Your Teams sign-in token is no longer valid{aadsts}. Click again to sign in afresh. Nothing was done.",
        )
    if 50057 in codes:
        return CredentialProblem(CredentialProblem.OTHER, f"Your account is disabled in Entra ID{aadsts}. Nothing was done.")
    return CredentialProblem(CredentialProblem.OTHER, f"Entra ID refused to exchange your sign-in{aadsts}. Nothing was done.")
