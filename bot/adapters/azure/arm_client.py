"""Azure Resource Manager clients on the Azure SDK's own pipeline: azure-mgmt-core's ARM pipeline client with the
policies, in the order, a generated management SDK configures them (ARM's challenge-aware bearer token, retries,
redirects, resource provider registration, logging without secrets), and its long-running-operation polling (ARM's
`Azure-AsyncOperation`, `Location` and body polling). No per-service SDK: the catalog's requests are sent as they are.

azure.mgmt.core is imported when the first client is built, not at start-up.
"""

from __future__ import annotations

from typing import Any

USER_AGENT = "sre-consent-bot"
_TRANSPORT = ("connection_timeout", "read_timeout")


def arm_client(endpoint: str, credential: Any, scope: str, **options: Any) -> Any:
    """An AsyncARMPipelineClient for `endpoint` with `credential` asking for `scope`; `options` are azure-core's
    (connection_timeout, read_timeout, connection_verify, retry_total, ...), as a generated client takes them."""
    from azure.core.pipeline import policies
    from azure.core.pipeline.transport import AioHttpTransport
    from azure.mgmt.core import AsyncARMPipelineClient
    from azure.mgmt.core.policies import (
        ARMHttpLoggingPolicy,
        AsyncARMAutoResourceProviderRegistrationPolicy,
        AsyncARMChallengeAuthenticationPolicy,
    )

    pipeline = [  # the order of azure-mgmt-compute's aio `_client.py`
        policies.RequestIdPolicy(**options),
        policies.HeadersPolicy(**options),
        policies.UserAgentPolicy(sdk_moniker=USER_AGENT, **options),
        policies.ProxyPolicy(**options),
        policies.ContentDecodePolicy(**options),
        AsyncARMAutoResourceProviderRegistrationPolicy(),
        policies.AsyncRedirectPolicy(**options),
        policies.AsyncRetryPolicy(**options),
        AsyncARMChallengeAuthenticationPolicy(credential, scope, **options),
        policies.CustomHookPolicy(**options),
        policies.NetworkTraceLoggingPolicy(**options),
        policies.DistributedTracingPolicy(**options),
        policies.SensitiveHeaderCleanupPolicy(**options),
        ARMHttpLoggingPolicy(**options),
    ]
    transport = AioHttpTransport(
        session=_session(options.get("connection_verify")), session_owner=True, **{k: v for k, v in options.items() if k in _TRANSPORT}
    )
    return AsyncARMPipelineClient(base_url=endpoint, policies=pipeline, transport=transport)


def _session(ca_bundle: Any) -> Any:
    """The client's aiohttp session, its connector verifying with `ca_bundle` (a CA file) through one SSL context.

    azure-core given `connection_verify=<path>` builds a new SSL context for every request, and aiohttp pools
    connections per SSL context: each request would then open a connection of its own and leave it open until its
    keep-alive ends (a thousand reads, a thousand sockets). One context for the session keeps the pool a pool.
    """
    import ssl

    import aiohttp

    context = ssl.create_default_context(cafile=ca_bundle) if isinstance(ca_bundle, str) else None
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context) if context else None, trust_env=True)


def poller(client: Any, initial: Any, interval: float | None) -> Any:
    """An AsyncLROPoller following ARM's long-running operation from the initial answer (a synchronous 200 without
    a polling header ends at once: nothing to poll)."""
    from azure.core.polling import AsyncLROPoller
    from azure.mgmt.core.polling.async_arm_polling import AsyncARMPolling

    return AsyncLROPoller(client, initial, lambda response: None, AsyncARMPolling(interval if interval is not None else 30))


def request(method: str, url: str, api_version: str, body: Any = None, if_match: str | None = None) -> Any:
    """An azure-core HttpRequest: the api-version in the query, the JSON body, If-Match when given."""
    from azure.core.rest import HttpRequest

    headers = {"Accept": "application/json"}
    if if_match:
        headers["If-Match"] = if_match
    return HttpRequest(method, url, params={"api-version": api_version}, json=body, headers=headers)
