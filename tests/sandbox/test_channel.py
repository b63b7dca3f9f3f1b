"""The channel token issuer, checked by botbuilder's own JwtTokenExtractor (what the bot runs)."""

from __future__ import annotations

import pytest
import requests
from botframework.connector.auth import JwtTokenExtractor, VerifyOptions

from sandbox import Sandbox
from sandbox.channel import CHANNEL_TOKEN_ISSUER


def test_metadata_names_the_jwks_and_every_key_is_endorsed_for_teams_only(sandbox: Sandbox) -> None:
    metadata = requests.get(sandbox.channel.metadata_url, timeout=5).json()
    assert metadata["issuer"] == CHANNEL_TOKEN_ISSUER
    keys = requests.get(metadata["jwks_uri"], timeout=5).json()["keys"]
    assert keys and all(k["endorsements"] == ["msteams"] and k["kty"] == "RSA" for k in keys)


def _extractor(sandbox: Sandbox) -> JwtTokenExtractor:
    options = VerifyOptions(issuer=[CHANNEL_TOKEN_ISSUER], audience=None, clock_tolerance=300, ignore_expiration=False)
    return JwtTokenExtractor(options, sandbox.channel.metadata_url, ["RS256"])


async def test_botbuilder_accepts_a_channel_token_for_msteams(sandbox: Sandbox) -> None:
    token = sandbox.channel.token("bot-app-id", "https://service.example/")
    identity = await _extractor(sandbox).get_identity("Bearer", token, "msteams")
    assert identity.claims["aud"] == "bot-app-id" and identity.claims["serviceurl"] == "https://service.example/"
    assert "ver" not in identity.claims  # a `ver` claim would send it down botbuilder's skill/emulator path


async def test_botbuilder_refuses_the_same_token_for_another_channel(sandbox: Sandbox) -> None:
    token = sandbox.channel.token("bot-app-id", "https://service.example/")
    with pytest.raises(Exception, match="endorsement"):
        await _extractor(sandbox).get_identity("Bearer", token, "webchat")


def test_the_sandbox_endpoint_mints_what_a_driver_attaches(sandbox: Sandbox) -> None:
    r = requests.post(f"{sandbox.channel.base_url}/sandbox/channel-token", json={"audience": "a", "serviceUrl": "https://s/"}, timeout=5)
    assert r.ok and r.json()["token"].count(".") == 2
    assert requests.post(f"{sandbox.channel.base_url}/sandbox/channel-token", json={}, timeout=5).status_code == 400
