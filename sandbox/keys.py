"""Signing keys of the Entra simulator: RSA keys generated at run time, published as a JWKS."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    """One RSA key pair and its key id."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh 2048-bit key with a random key id."""
        return cls(
            kid=secrets.token_urlsafe(12),
            private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK, the way Entra publishes it."""
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk

    def sign(self, claims: dict[str, Any]) -> str:
        """An RS256 JWT over `claims` with this key's `kid` in the header."""
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})


@dataclass
class KeySet:
    """The published keys; the first one signs. `rotate()` adds a new signing key and keeps the old."""

    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate()])

    @property
    def active(self) -> SigningKey:
        """The key that signs new tokens."""
        return self.keys[0]

    def rotate(self) -> SigningKey:
        """Publish a new signing key in front of the old ones."""
        key = SigningKey.generate()
        self.keys.insert(0, key)
        return key

    def jwks(self) -> dict[str, Any]:
        """The JWKS document."""
        return {"keys": [k.public_jwk() for k in self.keys]}

    def public_key_for(self, kid: str) -> Any | None:
        """The public key for `kid`, or None if it is not published."""
        for k in self.keys:
            if k.kid == kid:
                return k.private_key.public_key()
        return None

    def verify(self, token: str, **options: Any) -> dict[str, Any]:
        """Decode and verify `token` (RS256) with a published key; raises `jwt.InvalidTokenError`."""
        header = jwt.get_unverified_header(token)
        key = self.public_key_for(str(header.get("kid", "")))
        if key is None:
            raise jwt.InvalidSignatureError("signing key is not published")
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], **options)
        return claims
