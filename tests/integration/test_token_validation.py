"""The bot's JWT validator against the Entra simulator: discovery, keys, rotation, each check."""

from __future__ import annotations

import pytest

from bot.adapters.azure.tokens import EntraTokenValidator, TokenRejected
from sandbox import Sandbox


def _validator(box: Sandbox, min_refresh: float = 0.0) -> EntraTokenValidator:
    return EntraTokenValidator(box.entra.base_url, frozenset({box.world.home_tenant_id}), str(box.tls.ca_path),
                               min_refresh=min_refresh)


async def test_valid_sso_token_passes_and_keys_are_refetched_after_rotation(sandbox: Sandbox) -> None:
    v = _validator(sandbox)
    audience = [sandbox.world.bot.app_id_uri or ""]
    assert (await v.validate(sandbox.entra.sso_token("alice"), audience))["oid"] == sandbox.world.user("alice").object_id
    sandbox.keys.rotate()
    assert (await v.validate(sandbox.entra.sso_token("alice"), audience))["scp"] == "access_as_user"


async def test_unknown_key_is_not_refetched_more_than_once_per_interval(sandbox: Sandbox) -> None:
    v = _validator(sandbox, min_refresh=3600)
    audience = [sandbox.world.bot.app_id_uri or ""]
    await v.validate(sandbox.entra.sso_token("alice"), audience)
    sandbox.keys.rotate()
    with pytest.raises(TokenRejected) as e:
        await v.validate(sandbox.entra.sso_token("alice"), audience)
    assert "does not publish" in e.value.reason


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("expired", "expired"), ("not_yet", "not valid yet"), ("audience", "another audience"),
     ("tenant", "tenant this bot does not serve"), ("garbage", "well-formed")],
)
async def test_each_check_names_what_failed(sandbox: Sandbox, kind: str, reason: str) -> None:
    e = sandbox.entra
    token = {
        "expired": lambda: e.sso_token("alice", lifetime=-600),
        "not_yet": lambda: e.sso_token("alice", not_before_offset=600),
        "audience": lambda: e.sso_token("alice", audience="api://other"),
        "tenant": lambda: e.sso_token("mallory"),
        "garbage": lambda: "abc.def",
    }[kind]()
    with pytest.raises(TokenRejected) as err:
        await _validator(sandbox).validate(token, [sandbox.world.bot.app_id_uri or ""])
    assert reason in err.value.reason
    assert token not in err.value.reason
