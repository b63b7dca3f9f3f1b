"""Every text a person reads, reviewed as a set: one snapshot of them all, and the rules they share.

Set UPDATE_SNAPSHOTS=1 to rewrite tests/unit/snapshots/messages.md after an intended change, then review the diff.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain import messages as m
from bot.domain import nudges
from bot.domain.card_times import card_time_of, time_left
from bot.domain.follow_up import Escalation, FollowUp
from bot.domain.markdown import literal
from bot.domain.plan import PlanState
from bot.services.results import result_text
from cards.plan_card import READ_ONLY, plan_card

from .factories import DENIED, NOW, WEB01, every_state
from .test_cards import SSO

SNAPSHOT = Path(__file__).parent / "snapshots" / "messages.md"
STATES = every_state()
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
CARD_TIME = re.compile(r"\{\{(?:DATE|TIME)\([^)]*\)\}\}")  # what Teams turns into the reader's local time


def _card_text(card: object) -> str:
    parts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                parts.append(str(node.get("text", "")))
            if node.get("type") == "FactSet":
                parts.extend(f"{f.get('title')}: {f.get('value')}" for f in node.get("facts", []))
            if node.get("type") == "Action.Execute" and node.get("verb") != "refresh":
                parts.append(f"[{node.get('title')}]")
            for k, v in node.items():
                if k != "refresh":
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return "\n".join(parts)


def _every_text() -> dict[str, str]:
    """Name -> text, for every template and every state's card, reply and late-click answer."""
    texts: dict[str, str] = {}
    for name, plan in sorted(STATES.items()):
        texts[f"card/{name}"] = _card_text(plan_card(plan, READ_ONLY, NOW, sso=SSO))
        texts[f"reply/{name}"] = result_text(plan)
        texts[f"late click/{name}"] = m.already(plan)
        if plan.state.is_terminal:  # the requester who asked where the card is not: how it ended
            texts[f"requester told/{name}"] = m.outcome_for_requester(plan)
    texts["pending"] = m.pending_list([STATES["awaiting_consent"], STATES["awaiting_credentials"]], NOW)
    for op, state in [("start", "running"), ("powerOff", "deallocated"), ("restart", "stopped"), ("deallocate", "deallocated")]:
        texts[f"pointless/{op} when {state}"] = m.pointless(op, state, "web-01", "prod-rg") or "(a plan is proposed)"
    texts["wrong group"] = m.wrong_group("web-01", "dev-rg", ["prod-rg"])
    texts["status/known"] = m.vm_status(WEB01, "running")
    texts["status/unknown"] = m.vm_status(WEB01, None)
    texts["proposed again"] = m.proposed_again("p-000000000001", "p-000000000002")
    texts["cannot propose again"] = m.cannot_propose_again(STATES["succeeded"])
    texts["no plan"] = m.no_plan("p-000000000009")
    texts["approval recorded"] = m.approval_recorded(1)
    texts["already approved by you"] = m.already_approved_by_you(1)
    texts["running on behalf"] = m.running_on_behalf("Alice Admin")
    texts["card time"] = card_time_of("2026-11-25T09:08:07.613163+00:00")
    texts.update(_follow_up_texts())
    for const in (
        "NOTHING_PENDING",
        "TOO_FAST",
        "PLAN_UNAVAILABLE",
        "INTERNAL_ERROR",
        "NOT_EXECUTE",
        "MALFORMED_ACTION",
        "WORK_ACCOUNT_ONLY",
        "SIGN_IN_UNAVAILABLE",
        "SIGN_IN_PROMPT",
        "EXPIRED_CLICK",
        "CREDENTIALS_EXPIRED_CLICK",
        "INTERRUPTED_REASON",
        "STALE_CARD",
        "SELF_APPROVAL",
        "NOT_AN_APPROVER",
        "NOT_A_GRANTOR",
        "NOT_A_CANCELLER",
        "AUTONOMOUS_NOT_ALLOWED",
        "APPROVED",
        "DENIED",
        "NO_LONGER_EXISTS",
    ):
        texts[f"constant/{const}"] = getattr(m, const)
    return texts


def _follow_up_texts() -> dict[str, str]:
    """Reminders, escalation and the near-expiry warning (bot/domain/nudges.py), 12 minutes into a plan's wait."""
    later, link = NOW + timedelta(minutes=12), "https://teams.microsoft.com/l/message/19%3Ax/1"
    texts: dict[str, str] = {}
    for name in ("awaiting_consent", "awaiting_credentials"):
        plan = STATES[name]
        escalation = Escalation(frozenset({"d0d0d0d0-0000-0000-0000-000000000004"}), "e0e0e0e0-0000-0000-0000-000000000005")
        since = nudges.waiting_since(plan)
        followed = replace(
            plan,
            follow_up=FollowUp(
                escalate_to=escalation, reminded_at=since + timedelta(minutes=10), escalated_at=since + timedelta(minutes=11)
            ),
        )
        texts[f"reminder/{name}"] = nudges.reminder(plan, since + timedelta(minutes=12), link)
        texts[f"escalated to you/{name}"] = nudges.escalated_to_you(followed, since + timedelta(minutes=12), link)
        texts[f"escalation notice/{name}"] = nudges.escalation_notice(followed, since + timedelta(minutes=12), link)
        texts[f"about to expire/{name}"] = nudges.about_to_expire(plan, plan.expires_at - timedelta(minutes=4))
        texts[f"about to expire, card elsewhere/{name}"] = nudges.about_to_expire(plan, plan.expires_at - timedelta(minutes=4), link)
        texts[f"card, reminded and escalated/{name}"] = _card_text(plan_card(followed, READ_ONLY, since + timedelta(minutes=12), sso=SSO))
    texts["credentials expired, told where asked"] = nudges.credentials_expired(STATES["awaiting_credentials"])
    texts["pending, 12 minutes in"] = m.pending_list([STATES["awaiting_consent"]], later)
    return texts


def test_every_text_matches_its_snapshot() -> None:
    rendered = "".join(f"## {name}\n\n{text}\n\n" for name, text in _every_text().items())
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        if os.environ.get("CI") == "true" and not SNAPSHOT.exists():
            pytest.fail("snapshot messages.md is missing; run the tests locally with UPDATE_SNAPSHOTS=1")
        SNAPSHOT.write_text(rendered)
    assert rendered == SNAPSHOT.read_text(), "texts changed; rerun with UPDATE_SNAPSHOTS=1 if intended, then review"


@pytest.mark.parametrize("name", sorted(_every_text()))
def test_no_text_shows_a_raw_iso_time(name: str) -> None:
    assert not ISO_TIME.search(CARD_TIME.sub("", _every_text()[name])), name


@pytest.mark.parametrize("name", sorted(_every_text()))
def test_an_arm_id_appears_at_most_once_per_text(name: str) -> None:
    text = _every_text()[name]
    for found in set(re.findall(r"/subscriptions/[^\s'`)]+", text)):
        assert text.count(found) == 1, f"{name} repeats {found}"
    assert text.count(DENIED.message) <= 1, f"{name} repeats Azure's own text"


@pytest.mark.parametrize("state", sorted(s.value for s in PlanState if s.is_terminal and s is not PlanState.SUCCEEDED))
def test_every_end_short_of_success_offers_propose_again_on_card_and_in_thread(state: str) -> None:
    texts = _every_text()
    assert "[Propose again]" in texts[f"card/{state}"]
    assert "Propose again" in texts[f"reply/{state}"]


def test_not_authorized_names_a_built_in_role_and_the_group() -> None:
    assert "Virtual Machine Contributor on prod-rg" in _every_text()["reply/user_not_authorized"]


def test_a_late_approval_says_where_the_plan_stands_without_contradiction() -> None:
    for name, text in _every_text().items():
        if name.startswith("late click/"):
            assert "it is now approved" not in text and "now executing" not in text, name
    assert m.already(STATES["approved"]) == "This plan was already approved by Alice Admin; the agent is starting it."


def test_commands_that_cannot_help_ask_a_question_instead() -> None:
    assert m.pointless("start", "running", "web-01", "prod-rg") == (
        "web-01 in prod-rg is already running. Did you mean `restart vm web-01`? Nothing was proposed."
    )
    assert m.pointless("restart", "running", "web-01", "prod-rg") is None
    assert m.pointless("start", None, "web-01", "prod-rg") is None


def test_times_use_the_adaptive_card_functions() -> None:
    assert card_time_of("2026-11-25T09:08:07.613163+00:00") == ("{{DATE(2026-11-25T09:08:07Z, SHORT)}} {{TIME(2026-11-25T09:08:07Z)}}")
    assert card_time_of("not a time") == literal("not a time")
    assert time_left(NOW + timedelta(minutes=3, seconds=5), NOW) == "3 min left"


def test_who_declined_and_why() -> None:
    declined = replace(STATES["credentials_denied"], reason="not during the sale")
    assert "Alice Admin declined to lend credentials: not during the sale." in result_text(declined)
