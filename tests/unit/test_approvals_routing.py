"""Where a plan asked in Teams is put in front of its approvers (bot/adapters/conversation/approvals.py), the link to a
card in a channel (bot/services/links.py), and the requester told the decision (bot/services/deps.py), over the
in-memory store: no Teams involved."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.adapters.conversation.approvals import Approvals, ApprovalsChannel
from bot.adapters.conversation.roster import Roster
from bot.adapters.conversation.turn import Incoming, Sender
from bot.config import ConfigError, Settings
from bot.domain import messages, transitions
from bot.domain.audit import AuditEventName
from bot.domain.plan import Thread
from bot.domain.scope import Scope
from bot.ports import CARD_LINK, PERSONAL_CHAT, ConversationRef, MessageKind
from bot.services.deps import Deps
from bot.services.links import card_link
from bot.services.propose_plan import PlanRequest, propose_plan
from tests.fakes import InMemoryStore

from .factories import ALICE, BOB, CAROL, NOW, POLICY, SUB, proposed

SERVICE = "https://smba.example/teams/"
CHANNEL = ApprovalsChannel("19:approvals@thread.tacv2", SERVICE, "t")
PERSONAL = Thread(SERVICE, "a:carol-1on1", "t", "personal")
GROUP = Thread(SERVICE, "19:ops@thread.v2", "t", "groupChat")


class _Clock:
    def now(self) -> Any:
        return NOW


def _request(thread: Thread, requested_by: Any = CAROL) -> PlanRequest:
    plan = proposed(requested_by=requested_by)
    return PlanRequest(plan.title, plan.rationale, plan.actions, requested_by, POLICY, thread, reply_to="act-1")


def _roster(members: dict[str, dict[str, str]]) -> Roster:
    async def lister(service_url: str, conversation_id: str) -> dict[str, str]:
        return members[conversation_id]

    return Roster(lister)


INCOMING = Incoming("message", "msteams", SERVICE, "a:carol-1on1", "personal", sender=Sender("29:carol", CAROL.object_id))


async def test_a_plan_asked_in_a_personal_chat_goes_to_the_approvals_channel_with_a_link_and_notes() -> None:
    store = InMemoryStore()
    await store.remember(ConversationRef("t", ALICE.object_id, "a:alice-1on1", SERVICE, "29:alice"))
    request, nobody = await Approvals(CHANNEL, None, store).route(_request(PERSONAL))
    assert nobody is None
    assert request.thread == Thread(SERVICE, CHANNEL.channel_id, "t", "channel") and request.asked_in == PERSONAL
    to = [t.conversation_id for t, _ in request.notes]
    # the requester (with the link), alice in her known 1:1 chat, bob in a 1:1 chat the outbox creates
    assert to == ["a:carol-1on1", "a:alice-1on1", PERSONAL_CHAT + BOB.object_id]
    assert all(CARD_LINK in text for _, text in request.notes)


async def test_the_requester_is_never_sent_an_approvers_note() -> None:
    request, _ = await Approvals(CHANNEL, None, InMemoryStore()).route(_request(PERSONAL, ALICE))
    assert [t.conversation_id for t, _ in request.notes] == [PERSONAL.conversation_id, PERSONAL_CHAT + BOB.object_id]


async def test_a_group_chat_with_an_approver_keeps_its_card() -> None:
    roster = _roster({GROUP.conversation_id: {ALICE.object_id: "29:alice", CAROL.object_id: "29:carol"}})
    request, nobody = await Approvals(CHANNEL, roster, InMemoryStore()).route(_request(GROUP))
    assert request.thread == GROUP and request.asked_in is None and request.notes == () and nobody is None


async def test_a_group_chat_without_approvers_goes_to_the_approvals_channel() -> None:
    roster = _roster({GROUP.conversation_id: {CAROL.object_id: "29:carol"}})
    request, _ = await Approvals(CHANNEL, roster, InMemoryStore()).route(_request(GROUP))
    assert request.thread is not None and request.thread.conversation_id == CHANNEL.channel_id and request.asked_in == GROUP


async def test_without_an_approvals_channel_the_plan_stays_and_the_requester_is_told_nobody_can_approve() -> None:
    request, nobody = await Approvals(None, None, InMemoryStore()).route(_request(PERSONAL))
    assert request.thread == PERSONAL and nobody == messages.NOBODY_CAN_APPROVE


async def test_an_unknown_roster_keeps_the_card_where_it_was_asked() -> None:
    async def failing(service_url: str, conversation_id: str) -> dict[str, str]:
        raise ConnectionError("Teams is unreachable")

    request, _ = await Approvals(CHANNEL, Roster(failing), InMemoryStore()).route(_request(GROUP))
    assert request.thread == GROUP


async def test_uninstalling_forgets_the_chat_and_installing_remembers_it() -> None:
    store = InMemoryStore()
    approvals = Approvals(CHANNEL, None, store)
    add = replace(INCOMING, type="installationUpdate", action="add")
    await approvals.learned(add, CAROL)
    assert (await store.personal_chat("t", CAROL.object_id)) == ConversationRef("t", CAROL.object_id, "a:carol-1on1", SERVICE, "29:carol")
    await approvals.learned(replace(add, action="remove"), CAROL)
    assert await store.personal_chat("t", CAROL.object_id) is None
    await approvals.learned(replace(INCOMING, conversation_type="groupChat"), CAROL)  # not a 1:1 chat: nothing learned
    assert await store.personal_chat("t", CAROL.object_id) is None


def test_the_link_to_a_card_is_microsofts_channel_message_deep_link() -> None:
    thread = Thread(SERVICE, "19:approvals@thread.tacv2;messageid=1700000000042", "t", "channel", "1700000000042")
    assert card_link(thread) == (
        "https://teams.microsoft.com/l/message/19%3Aapprovals%40thread.tacv2/1700000000042"
        "?tenantId=t&parentMessageId=1700000000042&createdTime=1700000000042"
    )
    assert card_link(replace(thread, card_activity_id=None)) is None  # not posted yet
    assert card_link(PERSONAL) is None
    assert card_link(replace(PERSONAL, card_activity_id="1")) is None  # a bot's 1:1 chat (a:...): Teams documents no link


def test_the_link_to_a_card_in_a_group_chat_is_microsofts_chat_message_deep_link() -> None:
    assert card_link(replace(GROUP, card_activity_id="1700000000042")) == (
        "https://teams.microsoft.com/l/message/19%3Aops%40thread.v2/1700000000042?tenantId=t&context=%7B%22contextType%22%3A%22chat%22%7D"
    )


async def test_proposing_writes_the_card_and_the_notes_in_one_unit_of_work_and_a_decision_is_told_where_asked() -> None:
    store = InMemoryStore()
    deps = Deps(
        store=store,
        audit=store,
        runner=None,
        broker=None,
        clock=_Clock(),
        tasks=None,  # type: ignore[arg-type]
        allowed_scopes=(Scope.parse(f"/subscriptions/{SUB}"),),
    )
    request, _ = await Approvals(CHANNEL, None, store).route(_request(PERSONAL))
    plan = await propose_plan(deps, request)
    kinds = [(m.kind, m.thread.conversation_id if m.thread else None, m.reply_to) for m in store.messages()]
    assert kinds[0] == (MessageKind.POST_CARD, None, None)  # in the channel: it answers no command there
    assert kinds[1] == (MessageKind.NOTE, PERSONAL.conversation_id, "act-1")  # the requester's link answers the command
    assert {m.key for m in store.messages()} == {store.messages()[0].key}  # every note is ordered after the card
    denied = transitions.deny(plan, BOB, plan.content_hash, NOW, True, "change freeze")
    await deps.commit(plan, denied, BOB, AuditEventName.PLAN_DENIED)
    told = store.messages()[-1]  # a note about the plan: written with it (one transaction on every store)
    assert told.kind is MessageKind.NOTE and told.thread == PERSONAL and told.plan_id == plan.id
    assert "denied by Bob Reader" in (told.text or "") and "change freeze" in (told.text or "")


def test_approvals_channel_is_a_teams_channel_id_or_a_clear_one_line_error() -> None:
    good = {
        "AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111",
        "DEFAULT_SUBSCRIPTION_ID": SUB,
        "SSL_CERT_FILE": "",
        "REQUESTS_CA_BUNDLE": "",
    }
    assert Settings.from_env(good).policy.approvals_channel == ""
    channel = "19:0f9e0c1a2b3c4d5e@thread.tacv2"
    assert Settings.from_env({**good, "APPROVALS_CHANNEL": channel}).policy.approvals_channel == channel
    with pytest.raises(ConfigError) as e:
        Settings.from_env({**good, "APPROVALS_CHANNEL": "https://teams.microsoft.com/l/channel/19%3Aabc"})
    assert "APPROVALS_CHANNEL=" in str(e.value) and "expected a Teams channel id" in str(e.value) and "\n" not in str(e.value)
