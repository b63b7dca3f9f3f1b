"""Validates Entra-issued JWTs (API callers, Teams SSO) with keys from OpenID discovery.

Keys are cached per tenant and re-fetched when a token names an unknown `kid` (key rotation),
at most once every `min_refresh` seconds so a flood of bad tokens cannot hammer the authority.
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


class TokenRejected(Exception):
    """The token is not acceptable; `reason` is safe to show and log (it never contains the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Keys:
    keys: dict[str, PyJWK]
    fetched: float
    issuer: str


class EntraTokenValidator:
    """Signature, issuer, tenant, audience, expiry and not-before, against the configured authority."""

    def __init__(self, authority_host: str, allowed_tenants: frozenset[str], ca_bundle: str | None = None,
                 min_refresh: float = 60.0, leeway: float = 60.0) -> None:
        self.authority = authority_host.rstrip("/")
        self.allowed_tenants = allowed_tenants
        self._ssl = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        self._cache: dict[str, _Keys] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.min_refresh, self.leeway = min_refresh, leeway

    async def _fetch(self, tenant: str) -> _Keys:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"{self.authority}/{tenant}/v2.0/.well-known/openid-configuration", ssl=self._ssl) as r:
                r.raise_for_status()
                doc = await r.json()
            async with session.get(doc["jwks_uri"], ssl=self._ssl) as r:
                r.raise_for_status()
                jwks = await r.json()
        keys = {k["kid"]: PyJWK(k) for k in jwks.get("keys", []) if k.get("kid") and k.get("kty") == "RSA"}
        return _Keys(keys, time.monotonic(), doc["issuer"])

    async def _keys(self, tenant: str, kid: str) -> tuple[PyJWK | None, str]:
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            cached = self._cache.get(tenant)
            stale = cached is None or (kid not in cached.keys and time.monotonic() - cached.fetched > self.min_refresh)
            if stale:
                try:
                    cached = self._cache[tenant] = await self._fetch(tenant)
                except (TimeoutError, aiohttp.ClientError, KeyError, ValueError) as e:
                    raise TokenRejected(f"the signing keys of the authority could not be fetched ({type(e).__name__})") from None
        assert cached is not None
        return cached.keys.get(kid), cached.issuer

    async def validate(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """Verified claims, or TokenRejected saying which check failed."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise TokenRejected("the token is not a well-formed JWT") from None
        tenant = str(unverified.get("tid", ""))
        if tenant not in self.allowed_tenants:
            raise TokenRejected("the token was issued for a tenant this bot does not serve")
        if header.get("alg") != "RS256":
            raise TokenRejected("the token is not signed with RS256")
        key, issuer = await self._keys(tenant, str(header.get("kid", "")))
        if key is None:
            raise TokenRejected("the token is signed with a key the authority does not publish")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["RS256"], audience=audiences, issuer=issuer, leeway=self.leeway,
                options={"require": ["exp", "nbf", "iss", "aud", "tid", "oid"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("the token was issued for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("the token was issued by another authority") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("the token's signature does not verify") from None
        except jwt.InvalidTokenError as e:
            raise TokenRejected(f"the token is invalid ({type(e).__name__})") from None
        return claims
