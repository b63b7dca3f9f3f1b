"""The token service simulator, driven by botframework-connector's UserTokenClient with the bot's own token."""

from __future__ import annotations

import pytest
import requests
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount
from botframework.connector.auth import MicrosoftAppCredentials
from botframework.connector.auth._user_token_client_impl import _UserTokenClientImpl
from botframework.connector.token_api.models import TokenExchangeRequest
from msrest.exceptions import HttpOperationError

from sandbox import Sandbox

from .test_connector import bot_credentials


def _client(sandbox: Sandbox, credentials: object = None) -> _UserTokenClientImpl:
    return _UserTokenClientImpl(sandbox.world.bot.client_id, credentials or bot_credentials(sandbox), sandbox.token_service.base_url)


def _activity(sandbox: Sandbox, name: str) -> Activity:
    user = sandbox.world.user(name)
    return Activity(
        type="invoke",
        channel_id="msteams",
        service_url=sandbox.connector.base_url,
        from_property=ChannelAccount(id=user.teams_id),
        conversation=ConversationAccount(id="a:1"),
        recipient=ChannelAccount(id=f"28:{sandbox.world.bot.client_id}"),
    )


async def test_sign_in_link_then_code_then_token_then_sign_out(sandbox: Sandbox) -> None:
    client, alice = _client(sandbox), sandbox.world.user("alice")
    await client.sign_out_user(alice.teams_id, "sso", "msteams")  # whatever an earlier test left
    resource = await client.get_sign_in_resource("sso", _activity(sandbox, "alice"), None)
    assert resource.sign_in_link.startswith(sandbox.token_service.base_url)
    assert await client.get_user_token(alice.teams_id, "sso", "msteams", None) is None  # not signed in yet
    page = requests.get(resource.sign_in_link, params={"user": "alice"}, headers={"Accept": "application/json"}, timeout=5)
    code = page.json()["code"]
    assert await client.get_user_token(alice.teams_id, "sso", "msteams", "000000" if code != "000000" else "111111") is None
    token = await client.get_user_token(alice.teams_id, "sso", "msteams", code)
    assert token is not None and token.connection_name == "sso" and token.token.count(".") == 2
    assert (await client.get_user_token(alice.teams_id, "sso", "msteams", None)).token == token.token  # kept
    await client.sign_out_user(alice.teams_id, "sso", "msteams")
    assert await client.get_user_token(alice.teams_id, "sso", "msteams", None) is None


async def test_exchange_of_an_sso_token_for_the_connection(sandbox: Sandbox) -> None:
    bob = sandbox.world.user("bob")
    exchanged = await _client(sandbox).exchange_token(
        bob.teams_id, "sso", "msteams", TokenExchangeRequest(token=sandbox.entra.sso_token("bob"))
    )
    assert exchanged.token.count(".") == 2


async def test_calls_without_the_bot_s_token_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(HttpOperationError) as e:
        await _client(sandbox, MicrosoftAppCredentials(None, None)).get_sign_in_resource("sso", _activity(sandbox, "alice"), None)
    assert e.value.response.status_code == 401
