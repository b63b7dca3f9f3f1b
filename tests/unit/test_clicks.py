"""A card click is parsed once into a typed value; answers map to the Universal Actions wire shapes."""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters.conversation.answers import (
    CardAnswer,
    ErrorAnswer,
    InvalidAuthCode,
    LoginRequest,
    MessageAnswer,
    PreconditionFailed,
    wire,
)
from bot.adapters.conversation.clicks import CardClick, Malformed, NotExecute, Verb, parse_click


def click(verb: object, data: object, **value: Any) -> dict[str, Any]:
    return {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual", **value}


def test_a_deny_with_a_reason_is_typed_and_the_reason_clipped() -> None:
    parsed = parse_click(click("deny", {"planId": "p1", "planHash": "h", "reason": "x" * 600}))
    assert isinstance(parsed, CardClick)
    assert (parsed.verb, parsed.plan_id, parsed.plan_hash) == (Verb.DENY, "p1", "h")
    assert parsed.reason is not None and len(parsed.reason) == 500 and parsed.reason.endswith("…")


def test_a_grant_carries_the_sso_token_or_the_magic_code() -> None:
    sso = parse_click(click("grant", {"planId": "p"}, authentication={"token": "t0k"}))
    code = parse_click(click("grant", {"planId": "p"}, state="123456"))
    assert isinstance(sso, CardClick) and sso.sso_token == "t0k" and sso.magic_code is None
    assert isinstance(code, CardClick) and code.magic_code == "123456" and code.sso_token is None


def test_a_reason_only_counts_on_deny_and_blank_reasons_are_none() -> None:
    approve = parse_click(click("approve", {"planId": "p", "reason": "because"}))
    blank = parse_click(click("deny", {"planId": "p", "reason": "   "}))
    assert isinstance(approve, CardClick) and approve.reason is None
    assert isinstance(blank, CardClick) and blank.reason is None


@pytest.mark.parametrize("value", [None, "text", {}, {"action": "x"}, {"action": {"type": "Action.Submit", "verb": "approve"}}])
def test_anything_but_an_action_execute_is_not_a_click(value: object) -> None:
    assert parse_click(value) == NotExecute()


@pytest.mark.parametrize(
    ("verb", "data"),
    [("explode", {"planId": "p"}), ("approve", None), ("approve", {"planId": 7}), (None, {"planId": "p"}), ("x" * 100, {"planId": "p"})],
)
def test_unknown_verbs_or_missing_plan_ids_are_malformed_with_the_verb_clipped(verb: object, data: object) -> None:
    parsed = parse_click(click(verb, data))
    assert isinstance(parsed, Malformed) and parsed.verb == str(verb)[:40]


def test_every_answer_has_its_universal_actions_wire_shape() -> None:
    assert wire(CardAnswer({"type": "AdaptiveCard"})) == (200, "application/vnd.microsoft.card.adaptive", {"type": "AdaptiveCard"})
    assert wire(MessageAnswer("hi")) == (200, "application/vnd.microsoft.activity.message", "hi")
    assert wire(ErrorAnswer(429, "TooManyRequests", "slow")) == (
        429,
        "application/vnd.microsoft.error",
        {"code": "TooManyRequests", "message": "slow"},
    )
    status, type_, value = wire(LoginRequest("sso", "p1", "api://x", "https://signin"))
    assert (status, type_) == (401, "application/vnd.microsoft.activity.loginRequest")
    assert value["tokenExchangeResource"] == {"id": "p1", "uri": "api://x"} and value["buttons"][0]["value"] == "https://signin"
    assert wire(PreconditionFailed("retry")) == (
        412,
        "application/vnd.microsoft.error.preconditionFailed",
        {"code": "412", "message": "retry"},
    )
    assert wire(InvalidAuthCode()) == (401, "application/vnd.microsoft.error.invalidAuthCode", None)
