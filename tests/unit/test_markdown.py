"""Caller text cannot form links, formatting or mentions on cards and messages (one escaping function).

Checked through markdown-it-py in CommonMark mode: Adaptive Card and Teams markdown are CommonMark subsets.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.domain import transitions
from bot.domain.incident import parse_alert, parse_response_plans
from bot.domain.markdown import literal
from bot.domain.plan import Person
from bot.services.results import result_text
from cards.incident_card import incident_card
from cards.plan_card import READ_ONLY, card_summary, plan_card
from sandbox.monitor import alert_payload
from sandbox.world import VirtualMachine

from .factories import ALICE, NOW, proposed
from .test_incident import ALLOWED, PLANS

MD = MarkdownIt("commonmark")
HOSTILE = [
    "[x](https://evil)",
    "[click](javascript:alert(1))",
    "**bold** and __bold__ and *it* and _it_",
    "<at>Alice</at> please approve",
    "<a href='https://evil'>docs</a>",
    "line one\nline two\r\n\n- a list item\n1. numbered\n# heading\n> quote",
    "    indented code",
    "---",
    "`code` and ```fence```",
    "![img](https://evil/x.png)",
    "<https://evil.example>",
    "&lt;at&gt;Alice&lt;/at&gt;",
    "~~strike~~ | table | cell |",
    "\\[escaped](https://evil)",
    "https://evil.example/login",
]


def _tags(text: str) -> set[str]:
    return set(re.findall(r"<(\w+)", MD.render(literal(text))))


def _shown(text: str) -> str:
    """What a reader sees: the rendered text without tags, entities decoded, zero-width spaces dropped."""
    return html.unescape(re.sub(r"<[^>]+>", "", MD.render(literal(text)))).replace("\u200b", "").strip()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_as_one_plain_paragraph(text: str) -> None:
    assert _tags(text) <= {"p"}
    assert " ".join(_shown(text).split()) == " ".join(text.split())  # every character shown, as written


def test_bare_urls_are_not_left_for_clients_to_auto_link() -> None:
    assert "://" not in literal("see https://evil.example/login")


def test_ordinary_text_is_unchanged() -> None:
    for text in ("Restart VM web-01", "Memory leak: RSS above 95% for 20 minutes", "High CPU on web-02 (Sev2)"):
        assert literal(text) == text


@given(st.text(alphabet=st.sampled_from(list(" \t\n\r-+=*_#>[]()<>`~|&!:/0123456789.ahtps\\")), max_size=40))
def test_any_text_renders_without_markup(text: str) -> None:
    assert _tags(text) <= {"p"}


EVIL = "[x](https://evil) **boss** <at>Alice</at>\n- injected item"


def _blocks(card: object) -> list[str]:
    """Every text a card renders as markdown: TextBlock texts and Fact values."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(str(node["text"]))
            if node.get("type") == "FactSet":
                found.extend(str(f["value"]) for f in node["facts"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def _no_caller_markup(rendered_texts: list[str]) -> None:
    """No text quoting the hostile string forms a link, list, mention or bold of the caller's."""
    for t in (t for t in rendered_texts if "boss" in t):
        rendered = MD.render(t)
        assert "<a " not in rendered and "<li>" not in rendered and "&lt;at&gt;" not in t, t
        assert "<strong>boss</strong>" not in rendered and "https://evil" not in rendered, t


def test_plan_card_and_result_text_show_caller_text_literally() -> None:
    plan = replace(proposed(requested_by=Person("c0c0c0c0-0000-0000-0000-000000000003", EVIL, "t")), title=EVIL, rationale=EVIL)
    waiting = transitions.present(plan, NOW)
    denied = transitions.deny(waiting, replace(ALICE, name=EVIL), waiting.content_hash, NOW, True, EVIL)
    texts = _blocks(plan_card(denied, READ_ONLY, NOW))
    assert any("boss" in t for t in texts)
    _no_caller_markup(texts)
    _no_caller_markup(result_text(denied).split("\n\n"))


def test_incident_card_shows_the_alert_text_literally() -> None:
    (plan,) = parse_response_plans(PLANS, "https://smba.example/", "t", ALLOWED)
    vm = VirtualMachine("00000000-0000-0000-0000-0000000000aa", "prod-rg", "web-01")
    alert = parse_alert(alert_payload(EVIL, [vm], description=EVIL))
    texts = _blocks(incident_card(alert, plan))
    assert sum("boss" in t for t in texts) == 2
    _no_caller_markup(texts)


def test_the_cards_fallback_text_and_the_activitys_summary_are_plain_escaped_text() -> None:
    """Notifications and clients that cannot render a card show these two instead: the caller's link and mention must
    not come back to life there."""
    waiting = transitions.present(replace(proposed(), title=EVIL), NOW)
    card = plan_card(waiting, READ_ONLY, NOW)
    _no_caller_markup([card["fallbackText"], card_summary(waiting)])
    (plan,) = parse_response_plans(PLANS, "https://smba.example/", "t", ALLOWED)
    vm = VirtualMachine("00000000-0000-0000-0000-0000000000aa", "prod-rg", "web-01")
    _no_caller_markup([incident_card(parse_alert(alert_payload(EVIL, [vm])), plan)["fallbackText"]])
