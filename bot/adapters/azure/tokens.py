"""Validates Entra-issued access tokens (API callers, Teams SSO), v1 and v2, with keys from OpenID discovery.

Entra issues an API's access tokens in the version its registration asks for (`requestedAccessTokenVersion`:
null or 1 gives v1, whatever endpoint the client used), so both arrive here
(https://learn.microsoft.com/entra/identity-platform/access-tokens#token-formats):

- v2: `iss` is the v2 discovery document's issuer (`<authority>/{tid}/v2.0`), `aud` the API's client id, the
  client in `azp`;
- v1: `iss` is the v1 document's issuer (`https://sts.windows.net/{tid}/`), `aud` the Application ID URI (or
  the client id), the client in `appid`.

Each allowed tenant's two documents (`<authority>/{tid}/v2.0/.well-known/openid-configuration` and
`<authority>/{tid}/.well-known/openid-configuration`) give the issuers accepted for that tenant and, per
issuer, the keys its `jwks_uri` publishes; no other host is trusted. Keys are cached per tenant and fetched
again when a token names an unknown `kid` (rotation), at most once every `min_refresh` seconds; a failed
fetch is backed off the same way, so a flood of tokens while the authority is down costs one fetch per interval.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from jwt import PyJWK

DISCOVERY_PATHS = ("v2.0/.well-known/openid-configuration", ".well-known/openid-configuration")


class TokenRejected(Exception):
    """The token is not acceptable; `reason` is safe to show and log (it never contains the token).

    `out_of_time` is set when the token is only expired or not valid yet: a fresh token would do.
    """

    def __init__(self, reason: str, out_of_time: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.out_of_time = out_of_time


@dataclass
class _Tenant:
    keys: dict[str, dict[str, PyJWK]]  # issuer -> kid -> key
    fetched: float

    def knows(self, kid: str) -> bool:
        return any(kid in keys for keys in self.keys.values())


_FETCH_ERRORS = (TimeoutError, aiohttp.ClientError, jwt.PyJWTError, KeyError, ValueError, TypeError, AttributeError)


class EntraTokenValidator:
    """Signature, issuer, tenant, audience, expiry and not-before, against the configured authority."""

    def __init__(
        self,
        authority_host: str,
        allowed_tenants: frozenset[str],
        ca_bundle: str | None = None,
        min_refresh: float = 60.0,
        leeway: float = 60.0,
    ) -> None:
        self.authority = authority_host.rstrip("/")
        self.allowed_tenants = allowed_tenants
        self._ssl = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        self._cache: dict[str, _Tenant] = {}
        self._failed: dict[str, float] = {}  # tenant -> when its last fetch failed (monotonic)
        self._locks: dict[str, asyncio.Lock] = {}
        self.min_refresh, self.leeway = min_refresh, leeway

    async def _fetch(self, tenant: str) -> _Tenant:
        keys: dict[str, dict[str, PyJWK]] = {}
        jwks_by_uri: dict[str, dict[str, PyJWK]] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            for path in DISCOVERY_PATHS:
                async with session.get(f"{self.authority}/{tenant}/{path}", ssl=self._ssl) as r:
                    r.raise_for_status()
                    doc = await r.json()
                uri = str(doc["jwks_uri"])
                if uri not in jwks_by_uri:
                    async with session.get(uri, ssl=self._ssl) as r:
                        r.raise_for_status()
                        jwks_by_uri[uri] = _rsa_keys(await r.json())
                keys[str(doc["issuer"])] = jwks_by_uri[uri]
        return _Tenant(keys, time.monotonic())

    async def _tenant(self, tenant: str, kid: str) -> _Tenant:
        async with self._locks.setdefault(tenant, asyncio.Lock()):
            cached = self._cache.get(tenant)
            now = time.monotonic()
            if cached is not None and (cached.knows(kid) or now - cached.fetched < self.min_refresh):
                return cached
            failed = self._failed.get(tenant)
            if failed is not None and now - failed < self.min_refresh:
                if cached is None:
                    raise TokenRejected("the signing keys of the authority could not be fetched (retrying shortly)")
                return cached
            try:
                fresh = self._cache[tenant] = await self._fetch(tenant)
            except _FETCH_ERRORS as e:
                self._failed[tenant] = time.monotonic()
                if cached is None:
                    raise TokenRejected(f"the signing keys of the authority could not be fetched ({type(e).__name__})") from None
                return cached
            self._failed.pop(tenant, None)
            return fresh

    async def validate(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """Verified claims, or TokenRejected saying which check failed (never another exception for bad input)."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError):
            raise TokenRejected("the token is not a well-formed JWT") from None
        tenant, kid, issuer = unverified.get("tid"), header.get("kid"), unverified.get("iss")
        if not isinstance(tenant, str) or tenant not in self.allowed_tenants:
            raise TokenRejected("the token was issued for a tenant this bot does not serve")
        if header.get("alg") != "RS256":
            raise TokenRejected("the token is not signed with RS256")
        if not isinstance(kid, str) or not isinstance(issuer, str):
            raise TokenRejected("the token names no signing key or no issuer")
        known = await self._tenant(tenant, kid)
        if issuer not in known.keys:
            raise TokenRejected("the token was issued by another authority")
        key = known.keys[issuer].get(kid)
        if key is None:
            raise TokenRejected("the token is signed with a key the authority does not publish")
        claims = self._decode(token, key, issuer, [a for a in audiences if a])
        if not (isinstance(claims.get("azp"), str) or isinstance(claims.get("appid"), str)):
            raise TokenRejected("the token names no client application (azp or appid)")
        return claims

    def _decode(self, token: str, key: PyJWK, issuer: str, audiences: list[str]) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=audiences,
                issuer=issuer,
                leeway=self.leeway,
                options={"require": ["exp", "nbf", "iss", "aud", "tid", "oid"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired", out_of_time=True) from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the token is not valid yet", out_of_time=True) from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("the token was issued for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("the token was issued by another authority") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("the token's signature does not verify") from None
        except (jwt.PyJWTError, ValueError, TypeError) as e:
            raise TokenRejected(f"the token is invalid ({type(e).__name__})") from None
        return claims


def _rsa_keys(jwks: Any) -> dict[str, PyJWK]:
    """The RSA signing keys of a JWKS document by `kid`; keys that cannot be read are skipped."""
    keys: dict[str, PyJWK] = {}
    for k in jwks.get("keys", []):
        if isinstance(k, dict) and k.get("kid") and k.get("kty") == "RSA":
            try:
                keys[str(k["kid"])] = PyJWK(k)
            except jwt.PyJWTError:
                continue
    return keys
