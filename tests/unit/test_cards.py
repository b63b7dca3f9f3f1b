"""Cards for every state: snapshots, and structural validation through the microsoft-teams-cards models.

Set UPDATE_SNAPSHOTS=1 to rewrite the snapshots after an intended change, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cards.plan_card import READ_ONLY, SsoSettings, Viewer, plan_card

from .card_schema import validate_card
from .factories import NOW, every_state

SNAPSHOTS = Path(__file__).parent / "snapshots"
SSO = SsoSettings("sso", "api://localhost/botid-00000000-0000-0000-0000-000000000001")
STATES = every_state()


def _check_snapshot(name: str, card: dict[str, Any]) -> None:
    path = SNAPSHOTS / f"{name}.json"
    rendered = json.dumps(card, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if os.environ.get("CI") == "true" and not path.exists():
            pytest.fail(f"snapshot {path.name} is missing; run the tests locally with UPDATE_SNAPSHOTS=1")
        path.write_text(rendered)
    assert rendered == path.read_text(), f"card {name} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


@pytest.mark.parametrize("state", sorted(STATES))
@pytest.mark.parametrize("viewer", ["approver", "read_only"])
def test_plan_card_snapshot_and_schema(state: str, viewer: str) -> None:
    card = plan_card(
        STATES[state], Viewer(can_act=True) if viewer == "approver" else READ_ONLY, NOW, refresh_user_ids=["29:alice", "29:bob"], sso=SSO
    )
    assert validate_card(card) == []
    _check_snapshot(f"plan-{state}-{viewer}", card)


def test_only_approvers_get_buttons_and_only_while_waiting() -> None:
    for state, plan in STATES.items():
        approver = json.dumps(plan_card(plan, Viewer(can_act=True), NOW))
        reader = json.dumps(plan_card(plan, READ_ONLY, NOW))
        assert '"verb": "approve"' not in reader and '"verb": "grant"' not in reader
        assert ('"verb": "approve"' in approver) == (state.startswith("awaiting_consent"))
        assert ('"verb": "grant"' in approver) == (state == "awaiting_credentials")


def test_final_cards_have_no_refresh_and_waiting_cards_do() -> None:
    for plan in STATES.values():
        card = plan_card(plan, READ_ONLY, NOW, refresh_user_ids=["29:alice"])
        assert ("refresh" in card) == (not plan.state.is_terminal)


def test_credentials_card_carries_the_sso_authentication_block() -> None:
    card = plan_card(STATES["awaiting_credentials"], Viewer(can_act=True), NOW, sso=SSO)
    assert card["authentication"]["connectionName"] == "sso"
    assert card["authentication"]["tokenExchangeResource"]["uri"] == SSO.app_id_uri


def test_validator_catches_broken_cards() -> None:
    card = plan_card(STATES["awaiting_consent"], Viewer(can_act=True), NOW)
    broken = json.loads(json.dumps(card))
    broken["body"][0]["colour"] = "Red"
    broken["body"].append({"type": "Input.Telepathy"})
    broken["version"] = "9.9"
    problems = validate_card(broken)
    assert any("colour" in p for p in problems) and any("Input.Telepathy" in p for p in problems)
    assert any("version" in p for p in problems)


def test_an_autonomous_plan_card_says_no_approval_is_awaited() -> None:
    from dataclasses import replace

    from bot.domain.plan import Mode

    executing = replace(every_state()["executing"], mode=Mode.AUTONOMOUS, approvals=())
    facts = {
        f["title"]: f["value"]
        for item in plan_card(executing, READ_ONLY, NOW, sso=SSO)["body"]
        if item.get("type") == "FactSet"
        for f in item["facts"]
    }
    assert facts["Approvals"] == "none needed (autonomous)" and facts["Mode"] == "autonomous (incident response plan)"
