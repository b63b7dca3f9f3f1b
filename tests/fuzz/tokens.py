"""Mutated JWTs: claims, headers, signatures and algorithms, each mutation one that must make the token invalid.

A token signed with the issuer's real key always carries at least one breaking claim mutation (otherwise it
would simply be a valid token); tokens signed any other way (a forged key, `alg: none`, HS256 keyed with the
public key, a tampered payload or signature) may keep the claims intact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm, RSAPSSAlgorithm

from sandbox.keys import KeySet, SigningKey

from .strategies import JSON, TEXT

FORGED = SigningKey.generate()  # a key nobody publishes (generated at run time, as every test key)
Breaking = Callable[[dict[str, Any], int], None]  # mutates claims in place; `now` given


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims, default=str).encode())}.{signature}"


_ALGS = {
    "RS256": RSAAlgorithm(RSAAlgorithm.SHA256),
    "RS384": RSAAlgorithm(RSAAlgorithm.SHA384),
    "RS512": RSAAlgorithm(RSAAlgorithm.SHA512),
    "PS256": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256),
}


def _signed(claims: dict[str, Any], key: Any, alg: str, header: dict[str, Any]) -> str:
    """Sign any claims (PyJWT's encode refuses some shapes, such as a non-string `iss`, that a forger would send)."""
    head = _b64(json.dumps({**header, "alg": alg}).encode())
    body = _b64(json.dumps(claims, default=str).encode())
    return f"{head}.{body}.{_b64(_ALGS[alg].sign(f'{head}.{body}'.encode(), key))}"


def breaking_claims(others: dict[str, list[Any]]) -> st.SearchStrategy[Breaking]:
    """Claim mutations that make a token invalid for the bot; `others` gives wrong values per claim (other
    audiences, issuers, tenants, object ids) besides arbitrary ones."""

    def setter(claim: str, value: Any) -> Breaking:
        def apply(claims: dict[str, Any], now: int) -> None:
            claims[claim] = value

        return apply

    def remove(claim: str) -> Breaking:
        def apply(claims: dict[str, Any], now: int) -> None:
            claims.pop(claim, None)

        return apply

    def expired(seconds: int) -> Breaking:
        def apply(claims: dict[str, Any], now: int) -> None:
            claims["exp"] = now - seconds

        return apply

    def not_yet(seconds: int) -> Breaking:
        def apply(claims: dict[str, Any], now: int) -> None:
            claims["nbf"] = now + seconds

        return apply

    wrong = st.one_of(
        *(st.builds(setter, st.just(claim), st.one_of(st.sampled_from(values), TEXT, JSON)) for claim, values in others.items())
    )
    return st.one_of(
        wrong,
        st.builds(remove, st.sampled_from(["aud", "iss", "exp", *sorted(others)])),
        st.builds(expired, st.integers(min_value=400, max_value=10**9)),  # beyond any clock-skew leeway
        st.builds(not_yet, st.integers(min_value=400, max_value=10**9)),
    )


@st.composite
def mutated_token(
    draw: st.DrawFn,
    base: dict[str, Any],
    keys: KeySet,
    others: dict[str, list[Any]],
    issued: list[str],
    garbage: st.SearchStrategy[str] = TEXT,
) -> str:
    """A token derived from the valid claims `base`, broken in at least one way (or `garbage`). Tokens signed with a published key
    are added to `issued`, so the whole-suite leak check looks for them too."""
    claims = dict(base)
    for name, value in draw(st.dictionaries(TEXT, JSON, max_size=3)).items():  # arbitrary extra claims
        claims[name] = value
    now = int(time.time())
    how = draw(st.sampled_from(["real key", "forged key", "none", "hs256 with public key", "tampered payload", "bad signature", "garbage"]))
    mutations = draw(st.lists(breaking_claims(others), min_size=1 if how == "real key" else 0, max_size=3))
    for mutate in mutations:
        mutate(claims, now)
    header: dict[str, Any] = {"typ": "JWT"}
    extra_header = draw(st.dictionaries(st.sampled_from(["jku", "x5u", "jwk", "crit", "cty", "x5c", "zip", "typ"]), JSON, max_size=2))
    real = keys.active
    kid = draw(st.one_of(st.just(real.kid), TEXT, st.sampled_from(["../../../../etc/passwd", "' OR 1=1 --", FORGED.kid])))
    if how == "real key":
        token = _signed(claims, real.private_key, "RS256", {**header, **extra_header, "kid": real.kid})
        issued.append(token)
        return token
    if how == "forged key":
        return _signed(claims, FORGED.private_key, draw(st.sampled_from(sorted(_ALGS))), {**header, **extra_header, "kid": kid})
    if how == "none":
        alg = draw(st.sampled_from(["none", "None", "NONE", "nOnE", ""]))
        return _unsigned({**header, **extra_header, "alg": alg, "kid": kid}, claims, draw(st.sampled_from(["", "x"])))
    if how == "hs256 with public key":  # the classic algorithm confusion: the published RSA key used as an HMAC secret
        pem = real.private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        header_b64 = _b64(json.dumps({**header, **extra_header, "alg": "HS256", "kid": real.kid}).encode())
        body_b64 = _b64(json.dumps(claims, default=str).encode())
        signature = hmac.new(pem, f"{header_b64}.{body_b64}".encode(), hashlib.sha256).digest()
        return f"{header_b64}.{body_b64}.{_b64(signature)}"
    if how == "tampered payload":  # a valid signature over the original claims, then the claims swapped
        signed = _signed(dict(base), real.private_key, "RS256", {"kid": real.kid, "typ": "JWT"})
        issued.append(signed)
        h, _, s = signed.split(".")
        altered = claims if claims != base else {**base, "oid": "00000000-0000-0000-0000-000000000000"}
        return f"{h}.{_b64(json.dumps(altered, default=str).encode())}.{s}"
    if how == "bad signature":
        signed = _signed(claims, real.private_key, "RS256", {"kid": real.kid, "typ": "JWT"})
        issued.append(signed)
        h, p, s = signed.split(".")
        raw = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
        index = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[index] ^= draw(st.integers(min_value=1, max_value=255))
        cut = draw(st.sampled_from([None, 0, 10, len(raw) - 1]))
        return f"{h}.{p}.{_b64(bytes(raw[:cut] if cut is not None else raw))}"
    return draw(st.one_of(garbage, st.builds(lambda a, b, c: f"{a}.{b}.{c}", garbage, garbage, garbage)))
