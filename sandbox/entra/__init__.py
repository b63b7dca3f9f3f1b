"""A loopback Microsoft Entra ID: OpenID discovery (v1 and v2), JWKS, the v2 token endpoint and Teams SSO tokens.

Speaks the wire formats of https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow:
`client_credentials` for app identities,
the On-Behalf-Of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`) with the error bodies the
real service returns (AADSTS codes, `suberror`, `claims`), and a sandbox-only endpoint that mints
the SSO token the Teams client would obtain for a user.

Access tokens come in the version the *resource* asks for, as Entra issues them: the resource app's
`api.requestedAccessTokenVersion` (null or 1: v1, 2: v2), whatever endpoint the client used; Microsoft's own
resources (Azure Resource Manager, Microsoft Graph, the Bot Framework) get v1 tokens
(https://learn.microsoft.com/entra/identity-platform/access-tokens#token-formats).

Modules: `core` (state, issuer, minting), `claims` (v1/v2 access token claims), `discovery` (OpenID documents,
JWKS), `grants` (the token endpoint: client credentials, On-Behalf-Of), `graph` (Microsoft Graph group
membership), `errors` (AADSTS answers), `simulator` (routes, sandbox controls, Teams SSO tokens).
"""

from .errors import EntraError
from .simulator import SSO_SCOPE, EntraSimulator

__all__ = ["SSO_SCOPE", "EntraError", "EntraSimulator"]
