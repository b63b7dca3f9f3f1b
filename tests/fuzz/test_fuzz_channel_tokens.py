"""Fuzzing Bot Framework channel authentication: activities signed with mutated channel tokens (claims, headers,
signatures, algorithms; with the sandbox channel issuer's own key or a forged one) are refused with 401 and change
nothing, even though the activity itself is a valid command."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox import Sandbox
from sandbox.driver import TeamsDriver

from ..integration.harness import RunningBot
from .conftest import FUZZ, count
from .guard import assert_not_5xx, assert_preserved, settle, snapshot, starting_snapshot
from .tokens import mutated_token

HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)  # what an HTTP header can carry


@pytest.fixture
def channel_base(sandbox: Sandbox, driver: TeamsDriver) -> dict[str, Any]:
    """The claims of a valid channel token for the bot and the driver's serviceUrl."""
    claims: dict[str, Any] = jwt.decode(
        sandbox.channel.token(sandbox.world.bot.client_id, driver.service_url), options={"verify_signature": False}
    )
    return claims


def _channel_others(sandbox: Sandbox, driver: TeamsDriver) -> dict[str, list[Any]]:
    w = sandbox.world
    return {
        "aud": [w.agent.client_id, w.bot.app_id_uri, "https://api.botframework.com", "", str(uuid.UUID(int=0))],
        "iss": [
            "https://api.botframework.com/",
            "https://sts.windows.net/" + w.home_tenant_id + "/",
            sandbox.entra.issuer(w.home_tenant_id, 2),
            "https://evil.example",
            "",
        ],
        "serviceurl": ["https://evil.example/", driver.service_url + "x", driver.service_url.upper(), ""],
    }


@FUZZ
@given(data=st.data())
async def test_no_mutated_channel_token_gets_an_activity_in(
    data: st.DataObject, sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, store_path: Path, channel_base: dict[str, Any]
) -> None:
    count("channel tokens")
    token = data.draw(
        mutated_token(channel_base, sandbox.channel.keys, _channel_others(sandbox, driver), sandbox.channel.issued, HEADER_TEXT)
    )
    scheme = data.draw(st.sampled_from(["Bearer "] * 5 + ["bearer ", "", "Basic ", "Bearer  "]))
    authorization = data.draw(st.one_of(st.just(scheme + token), st.just(scheme + token), HEADER_TEXT.map(lambda t: scheme + t)))
    before = await starting_snapshot(bot, store_path, sandbox)
    carol = sandbox.world.user("carol")
    chat = TeamsDriver.group_chat(carol.tenant_id, "fuzz-channel")
    result = await driver.post(driver.message(carol, "restart vm dev-01", chat), authorization=authorization or "x")
    assert_not_5xx(result.status, result.body)
    assert result.status == 401, result
    await settle(bot)
    assert_preserved(before, snapshot(store_path, sandbox), sandbox)


async def test_the_unmutated_channel_token_is_accepted(sandbox: Sandbox, driver: TeamsDriver) -> None:
    """The mutations above start from a token the bot accepts (else they would test nothing)."""
    carol = sandbox.world.user("carol")
    result = await driver.post(driver.message(carol, "help", TeamsDriver.group_chat(carol.tenant_id, "fuzz-channel-ok")))
    assert 200 <= result.status < 300, result


async def test_a_channel_token_without_expiry_is_refused(
    sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, store_path: Path, channel_base: dict[str, Any]
) -> None:
    """Found by the fuzzer: botbuilder 4.17 checks `exp` only when present, so a token without one never expired.
    Signed by the channel's real key, right issuer, audience and serviceurl: still 401, nothing processed."""
    claims = {k: v for k, v in channel_base.items() if k != "exp"}
    token = sandbox.channel.keys.active.sign(claims)
    sandbox.channel.issued.append(token)
    before = await starting_snapshot(bot, store_path, sandbox)
    carol = sandbox.world.user("carol")
    chat = TeamsDriver.group_chat(carol.tenant_id, "fuzz-channel-no-exp")
    result = await driver.post(driver.message(carol, "restart vm dev-01", chat), authorization=f"Bearer {token}")
    assert result.status == 401, result
    await settle(bot)
    assert_preserved(before, snapshot(store_path, sandbox), sandbox)
