"""Every card the bot sends, through Microsoft's own Adaptive Cards renderer in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser

from .browser import click_all, render, renderer_page

SNAPSHOTS = sorted((Path(__file__).resolve().parents[1] / "unit" / "snapshots").glob("*.json"))


def test_every_card_state_is_covered() -> None:
    assert len(SNAPSHOTS) >= 26  # each plan state, as an approver and as anyone else


async def test_every_card_renders_with_zero_events_and_its_buttons_send_what_the_bot_accepts(browser: Browser) -> None:
    from cards.plan_card import VERB_APPROVE, VERB_CANCEL, VERB_DENY, VERB_GRANT, VERB_PROPOSE_AGAIN, VERB_REFRESH

    handled = {VERB_APPROVE, VERB_DENY, VERB_REFRESH, VERB_GRANT, VERB_CANCEL, VERB_PROPOSE_AGAIN}
    page = await renderer_page(browser)
    clicked_verbs: set[str] = set()
    for path in SNAPSHOTS:
        card = json.loads(path.read_text())
        events = await render(page, card)
        assert events == [], f"{path.name}: {events}"
        for action in await click_all(page):
            assert action["type"] == "Action.Execute", path.name
            assert action["verb"] in handled, f"{path.name}: verb {action['verb']!r} has no handler"
            data = action["data"]
            assert isinstance(data.get("planId"), str), f"{path.name}: {data}"
            assert isinstance(data.get("planHash"), str), f"{path.name}: {data}"
            if action["verb"] in (VERB_DENY, VERB_CANCEL):
                assert data.get("reason") == "checked by the renderer test"  # the typed reason travels with Deny/Cancel
            clicked_verbs.add(action["verb"])
    assert clicked_verbs == {VERB_APPROVE, VERB_DENY, VERB_GRANT, VERB_CANCEL, VERB_PROPOSE_AGAIN}


@pytest.mark.parametrize(
    ("break_it", "words"),
    [
        (lambda c: c["body"].append({"type": "Input.Telepathy", "id": "x"}), "Input.Telepathy"),
        (lambda c: c["body"].append({"type": "Input.Text"}), "unique Id"),
    ],
)
async def test_a_broken_card_fails_with_the_renderers_message(browser: Browser, break_it: object, words: str) -> None:
    card = json.loads(SNAPSHOTS[0].read_text())
    break_it(card)  # type: ignore[operator]
    events = await render(await renderer_page(browser), card)
    assert events and any(words in e for e in events), events
