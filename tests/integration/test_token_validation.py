"""The bot's JWT validator against the Entra simulator: v1 and v2 tokens, discovery, keys, rotation, each check."""

from __future__ import annotations

import asyncio
import base64
import json

import jwt
import pytest
from azure.identity import ClientSecretCredential

from bot.adapters.azure.tokens import EntraTokenValidator, TokenRejected
from sandbox import Sandbox

from ..conftest import each_token_version

sandbox = each_token_version()  # each test runs with the bot's API on v1 tokens (the file as written) and on v2


def _validator(box: Sandbox, min_refresh: float = 0.0) -> EntraTokenValidator:
    return EntraTokenValidator(box.entra.base_url, frozenset({box.world.home_tenant_id}), str(box.tls.ca_path), min_refresh=min_refresh)


def _audiences(box: Sandbox) -> list[str]:
    """What the bot accepts: the Application ID URI (v1 tokens) and the client id (v2 tokens)."""
    return [box.world.bot.app_id_uri or "", box.world.bot.client_id]


def _b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _without(token: str, *names: str, box: Sandbox) -> str:
    """`token` re-signed by the authority's key without the claims `names` (an id token, for instance)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return box.keys.active.sign({k: v for k, v in claims.items() if k not in names})


async def test_valid_sso_token_passes_and_keys_are_refetched_after_rotation(sandbox: Sandbox) -> None:
    v = _validator(sandbox)
    claims = await v.validate(sandbox.entra.sso_token("alice"), _audiences(sandbox))
    assert claims["oid"] == sandbox.world.user("alice").object_id
    assert claims["ver"] == f"{sandbox.world.bot.token_version}.0"
    sandbox.keys.rotate()
    assert (await v.validate(sandbox.entra.sso_token("alice"), _audiences(sandbox)))["scp"] == "access_as_user"


async def test_app_token_for_the_bot_api_passes_with_its_roles(sandbox: Sandbox) -> None:
    agent = sandbox.world.agent
    token = (
        ClientSecretCredential(
            sandbox.world.home_tenant_id,
            agent.client_id,
            agent.secret,
            authority=sandbox.entra.base_url,
            disable_instance_discovery=True,
        )
        .get_token(f"{sandbox.world.bot.app_id_uri}/.default")
        .token
    )
    claims = await _validator(sandbox).validate(token, _audiences(sandbox))
    assert claims["roles"] == ["Plans.Submit"] and agent.client_id in (claims.get("appid"), claims.get("azp"))


async def test_unknown_key_is_not_refetched_more_than_once_per_interval(sandbox: Sandbox) -> None:
    v = _validator(sandbox, min_refresh=3600)
    await v.validate(sandbox.entra.sso_token("alice"), _audiences(sandbox))
    sandbox.keys.rotate()
    before = sandbox.entra.metadata_requests
    for _ in range(5):
        with pytest.raises(TokenRejected) as e:
            await v.validate(sandbox.entra.sso_token("alice"), _audiences(sandbox))
        assert "does not publish" in e.value.reason
    assert sandbox.entra.metadata_requests == before


async def test_a_flood_of_tokens_while_the_authority_is_down_costs_one_fetch_per_interval(sandbox: Sandbox) -> None:
    v = _validator(sandbox, min_refresh=3600)
    tokens = [sandbox.entra.sso_token("alice") for _ in range(20)]
    sandbox.entra.unavailable = True
    before = sandbox.entra.metadata_requests
    results = await asyncio.gather(*(v.validate(t, _audiences(sandbox)) for t in tokens), return_exceptions=True)
    assert all(isinstance(r, TokenRejected) and "could not be fetched" in r.reason for r in results)
    assert sandbox.entra.metadata_requests == before + 1
    sandbox.entra.unavailable = False  # back up, but the failure is still backed off for this interval
    with pytest.raises(TokenRejected):
        await v.validate(tokens[0], _audiences(sandbox))
    assert sandbox.entra.metadata_requests == before + 1
    assert (await _validator(sandbox).validate(tokens[0], _audiences(sandbox)))["tid"] == sandbox.world.home_tenant_id


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("expired", "expired"),
        ("not_yet", "not valid yet"),
        ("audience", "another audience"),
        ("tenant", "tenant this bot does not serve"),
        ("garbage", "well-formed"),
        ("other_issuer", "another authority"),
        ("no_client", "names no client application"),
    ],
)
async def test_each_check_names_what_failed(sandbox: Sandbox, kind: str, reason: str) -> None:
    e, tid = sandbox.entra, sandbox.world.home_tenant_id
    token = {
        "expired": lambda: e.sso_token("alice", lifetime=-600),
        "not_yet": lambda: e.sso_token("alice", not_before_offset=600),
        "audience": lambda: e.sso_token("alice", audience="api://other"),
        "tenant": lambda: e.sso_token("mallory"),
        "garbage": lambda: "abc.def",
        "other_issuer": lambda: e.sso_token("alice", extra={"iss": f"https://login.example/{tid}/v2.0"}),
        "no_client": lambda: _without(e.sso_token("alice"), "appid", "azp", box=sandbox),
    }[kind]()
    with pytest.raises(TokenRejected) as err:
        await _validator(sandbox).validate(token, _audiences(sandbox))
    assert reason in err.value.reason
    assert err.value.out_of_time == (kind in ("expired", "not_yet"))
    assert token not in err.value.reason


async def test_a_v1_issuer_is_accepted_only_for_its_own_tenant(sandbox: Sandbox) -> None:
    other = sandbox.world.user("mallory").tenant_id
    forged = sandbox.entra.sso_token("alice", extra={"iss": f"https://sts.windows.net/{other}/"})
    with pytest.raises(TokenRejected) as err:
        await _validator(sandbox).validate(forged, _audiences(sandbox))
    assert "another authority" in err.value.reason


@pytest.mark.parametrize(
    "shape",
    ["alg_none", "hs256", "garbage_header", "header_not_object", "kid_not_string", "tid_list", "exp_string", "empty"],
)
async def test_a_malformed_token_of_any_kind_is_rejected_never_an_error(sandbox: Sandbox, shape: str) -> None:
    tid = sandbox.world.home_tenant_id
    claims = jwt.decode(sandbox.entra.sso_token("alice"), options={"verify_signature": False})
    token = {
        "alg_none": lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "hs256": lambda: jwt.encode(claims, "a shared secret that is long enough for HS256", algorithm="HS256"),
        "garbage_header": lambda: f"%%%.{_b64(claims)}.c2ln",
        "header_not_object": lambda: f"{_b64([1, 2])}.{_b64(claims)}.c2ln",
        "kid_not_string": lambda: f"{_b64({'alg': 'RS256', 'kid': {'x': 1}})}.{_b64(claims)}.c2ln",
        "tid_list": lambda: f"{_b64({'alg': 'RS256', 'kid': 'k'})}.{_b64({**claims, 'tid': [tid]})}.c2ln",
        "exp_string": lambda: f"{_b64({'alg': 'RS256', 'kid': 'k'})}.{_b64({**claims, 'exp': 'soon'})}.c2ln",
        "empty": lambda: "",
    }[shape]()
    with pytest.raises(TokenRejected):
        await _validator(sandbox).validate(token, _audiences(sandbox))
