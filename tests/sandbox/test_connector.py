"""The Bot Connector simulator, driven by botframework-connector's async ConnectorClient with the bot's own token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import requests
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials
from botframework.connector.models import ErrorResponseException

from bot.adapters.teams.auth import PrivateAuthorityCredentials
from sandbox import Sandbox
from sandbox.bot_token import BOT_FRAMEWORK_RESOURCE

THREAD = "19:sandbox-incidents@thread.tacv2;messageid=1700000000001"


def bot_credentials(sandbox: Sandbox, app_name: str = "sre-consent-bot") -> PrivateAuthorityCredentials:
    """The credentials the bot uses: client credentials from the sandbox Entra for https://api.botframework.com."""
    app = sandbox.world.apps[app_name]
    return PrivateAuthorityCredentials(
        app.client_id, app.secret, f"{sandbox.entra.base_url}/{app.tenant_id}", BOT_FRAMEWORK_RESOURCE, str(sandbox.tls.ca_path)
    )


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[ConnectorClient]:
    async with ConnectorClient(bot_credentials(sandbox), base_url=sandbox.connector.base_url) as c:
        yield c


@pytest.mark.parametrize("credentials", ["none", "another app"])
async def test_calls_without_the_bot_s_token_are_refused_and_not_performed(sandbox: Sandbox, credentials: str) -> None:
    creds = MicrosoftAppCredentials(None, None) if credentials == "none" else bot_credentials(sandbox, "sre-agent")
    before = len(sandbox.connector.calls), len(sandbox.connector.activities)
    async with ConnectorClient(creds, base_url=sandbox.connector.base_url) as c:
        with pytest.raises(ErrorResponseException) as e:
            await c.conversations.send_to_conversation(THREAD, Activity(type="message", text="forged"))
    assert e.value.response.status_code == 401
    assert (len(sandbox.connector.calls), len(sandbox.connector.activities)) == before


async def test_send_then_update_replaces_the_activity_in_place(sandbox: Sandbox, client: ConnectorClient) -> None:
    sent = await client.conversations.send_to_conversation(THREAD, Activity(type="message", text="first"))
    await client.conversations.update_activity(THREAD, sent.id, Activity(type="message", id=sent.id, text="second"))
    posted = sandbox.connector.activities[sent.id]
    assert posted.text == "second" and [v["text"] for v in posted.versions] == ["first", "second"]
    assert [c.operation for c in sandbox.connector.calls[-2:]] == ["send", "update"]
    assert sandbox.connector.calls[-1].conversation_id == THREAD  # percent-encoded ids are decoded


async def test_reply_to_activity_is_recorded_as_a_reply(sandbox: Sandbox, client: ConnectorClient) -> None:
    root = await client.conversations.send_to_conversation(THREAD, Activity(type="message", text="root"))
    reply = await client.conversations.reply_to_activity(THREAD, root.id, Activity(type="message", text="reply"))
    assert sandbox.connector.activities[reply.id].reply_to_id == root.id


async def test_create_conversation_opens_a_new_channel_thread(sandbox: Sandbox, client: ConnectorClient) -> None:
    params = ConversationParameters(
        is_group=True,
        channel_data={"channel": {"id": "19:sandbox-incidents@thread.tacv2"}},
        activity=Activity(type="message", text="Incident: CPU high on web-01"),
    )
    created = await client.conversations.create_conversation(params)
    assert created.id == f"19:sandbox-incidents@thread.tacv2;messageid={created.activity_id}"
    assert sandbox.connector.activities[created.activity_id].text.startswith("Incident")
    follow_up = await client.conversations.send_to_conversation(created.id, Activity(type="message", text="plan"))
    assert sandbox.connector.activities[follow_up.id].conversation_id == created.id


async def test_create_one_to_one_conversation(sandbox: Sandbox, client: ConnectorClient) -> None:
    """Where the app is installed for the user, Teams answers their 1:1 chat (by Teams id or Entra object id)."""
    alice = sandbox.world.user("alice")
    chat = sandbox.connector.install(alice)
    try:
        for member in (alice.teams_id, alice.object_id):
            created = await client.conversations.create_conversation(
                ConversationParameters(members=[ChannelAccount(id=member)], channel_data={"tenant": {"id": alice.tenant_id}})
            )
            assert created.id == chat and created.id.startswith("a:")
    finally:
        sandbox.connector.uninstall(alice)


async def test_a_one_to_one_conversation_with_someone_the_app_is_not_installed_for_is_refused(
    sandbox: Sandbox, client: ConnectorClient
) -> None:
    bob = sandbox.world.user("bob")
    with pytest.raises(ErrorResponseException) as refused:
        await client.conversations.create_conversation(
            ConversationParameters(members=[ChannelAccount(id=bob.teams_id)], channel_data={"tenant": {"id": bob.tenant_id}})
        )
    assert refused.value.response.status_code == 403


async def test_a_personal_chat_lists_its_one_person(sandbox: Sandbox, client: ConnectorClient) -> None:
    carol = sandbox.world.user("carol")
    page = await client.conversations.get_conversation_paged_members(sandbox.connector.personal_chat_id(carol))
    assert [m.aad_object_id for m in page.members] == [carol.object_id]


async def test_delete_hides_the_activity(sandbox: Sandbox, client: ConnectorClient) -> None:
    sent = await client.conversations.send_to_conversation(THREAD, Activity(type="message", text="oops"))
    await client.conversations.delete_activity(THREAD, sent.id)
    assert sent.id not in {a.id for a in sandbox.connector.in_conversation(THREAD)}


async def test_the_non_paged_roster_names_the_object_id_objectId_as_teams_and_the_playground_do(
    sandbox: Sandbox, client: ConnectorClient
) -> None:
    """`GET .../members` names the Entra object id `objectId`: botframework's model, which maps only `aadObjectId`,
    keeps it among the properties it does not know, and its `aad_object_id` is empty (why the bot reads pages)."""
    members = await client.conversations.get_conversation_members(THREAD)
    by_name = {m.name: m for m in members}
    alice = sandbox.world.user("alice")
    assert by_name[alice.display_name].id == alice.teams_id
    assert by_name[alice.display_name].aad_object_id is None
    assert by_name[alice.display_name].additional_properties["objectId"] == alice.object_id
    assert sandbox.world.user("mallory").display_name not in by_name  # another tenant


async def test_one_member_by_teams_id_object_id_or_upn_carries_aadObjectId(sandbox: Sandbox, client: ConnectorClient) -> None:
    alice = sandbox.world.user("alice")
    for wanted in (alice.teams_id, alice.object_id, alice.upn):
        one = await client.conversations.get_conversation_member(THREAD, wanted)
        assert (one.name, one.aad_object_id) == (alice.display_name, alice.object_id)


async def _all_pages(client: ConnectorClient, chat: str, page_size: int | None) -> list[list[ChannelAccount]]:
    pages, token = [], None
    while True:
        page = await client.conversations.get_conversation_paged_members(chat, page_size, token)
        pages.append(page.members)
        token = page.continuation_token
        if token is None:
            return pages


@pytest.mark.parametrize(("asked", "served"), [(None, 50), (10, 50), (120, 120), (900, 500)])
async def test_paged_members_come_in_teams_page_sizes_with_continuation_tokens(
    sandbox: Sandbox, client: ConnectorClient, asked: int | None, served: int
) -> None:
    """Pages of 50 to 500 (smaller asks get 50, larger 500; none asked: 50, as the Playground serves), each with
    `aadObjectId`, a continuation token on every page but the last; together they are the whole roster, in order."""
    team_channel = f"19:paged-{asked}@thread.tacv2"
    carol, alice = sandbox.world.user("carol"), sandbox.world.user("alice")
    roster = sandbox.connector.set_roster(team_channel, [carol, alice], others=1098)
    pages = await _all_pages(client, team_channel, asked)
    assert [len(p) for p in pages[:-1]] == [served] * (len(pages) - 1) and 0 < len(pages[-1]) <= served
    members = [m for page in pages for m in page]
    assert [(m.id, m.aad_object_id) for m in members] == [(u.teams_id, u.object_id) for u in roster]
    assert len(members) == 1100 and members[-1].name == alice.display_name


async def test_a_paged_roster_refuses_a_token_it_never_issued(sandbox: Sandbox, client: ConnectorClient) -> None:
    from msrest.exceptions import HttpOperationError

    with pytest.raises(HttpOperationError) as refused:
        await client.conversations.get_conversation_paged_members(THREAD, 50, "not-a-token")
    assert refused.value.response.status_code == 403


def test_a_group_chat_has_at_most_250_people(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="at most 250"):
        sandbox.connector.set_roster("19:too-many@thread.v2", [], others=251)


async def test_a_roster_set_for_a_chat_is_its_only_members(sandbox: Sandbox, client: ConnectorClient) -> None:
    chat = "19:just-carol-and-bob@thread.v2"
    carol, bob, alice = (sandbox.world.user(n) for n in ("carol", "bob", "alice"))
    sandbox.connector.set_roster(chat, [carol, bob])
    page = await client.conversations.get_conversation_paged_members(chat)
    assert [m.aad_object_id for m in page.members] == [carol.object_id, bob.object_id] and page.continuation_token is None
    with pytest.raises(ErrorResponseException) as missing:
        await client.conversations.get_conversation_member(chat, alice.teams_id)
    assert missing.value.response.status_code == 404


async def test_injected_429_surfaces_with_retry_after(sandbox: Sandbox, client: ConnectorClient) -> None:
    sandbox.connector.throttle(1, retry_after=3)
    with pytest.raises(ErrorResponseException) as e:
        await client.conversations.send_to_conversation(THREAD, Activity(type="message", text="too fast"))
    assert e.value.response.status_code == 429 and e.value.response.headers["Retry-After"] == "3"
    await client.conversations.send_to_conversation(THREAD, Activity(type="message", text="now fine"))


async def test_update_of_unknown_activity_is_404(client: ConnectorClient) -> None:
    with pytest.raises(ErrorResponseException) as e:
        await client.conversations.update_activity(THREAD, "404404", Activity(type="message", id="404404", text="x"))
    assert e.value.response.status_code == 404


def test_activities_listing_for_drivers(sandbox: Sandbox) -> None:
    assert isinstance(requests.get(f"{sandbox.connector.base_url}/sandbox/activities", timeout=5).json(), list)
    assert requests.post(f"{sandbox.connector.base_url}/sandbox/throttle", json={"count": 0}, timeout=5).ok
