"""infra/*.example.json are what the deployment guide tells an administrator to copy and fill: once their <...>
placeholders are filled, the bot reads them as they are (its notes, the `$` keys, ignored), so the examples cannot
drift from the file formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.domain.callers import parse_api_callers
from bot.domain.incident import parse_response_plans
from bot.domain.scope import parse_scopes

INFRA = Path(__file__).resolve().parents[2] / "infra"
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
FILLED = {
    "<19:...@thread.tacv2>": "19:0123456789abcdef@thread.tacv2",
    "<subscription id>": SUBSCRIPTION,
    "<resource group>": "prod-rg",
}


def _filled(name: str) -> object:
    text = (INFRA / name).read_text()
    for placeholder, value in FILLED.items():
        text = text.replace(placeholder, value)
    ids = iter(f"{n:08d}-1111-2222-3333-444444444444" for n in range(100))
    data = json.loads(re.sub(r"<(?:object id|client id)[^>]*>", lambda m: next(ids), text))
    left = [v for v in _values(data) if "<" in v]
    assert not left, f"{name}: placeholders this test does not fill: {left}"
    return data


def _values(node: object) -> list[str]:
    """Every string the bot reads (the $ notes left out)."""
    if isinstance(node, dict):
        return [v for k, child in node.items() if not k.startswith("$") for v in _values(child)]
    if isinstance(node, list):
        return [v for child in node for v in _values(child)]
    return [node] if isinstance(node, str) else []


ALLOWED = parse_scopes([f"/subscriptions/{SUBSCRIPTION}"])


def test_the_response_plans_example_is_a_valid_file_once_filled() -> None:
    (plan,) = parse_response_plans(_filled("response-plans.example.json"), "https://smba.trafficmanager.net/teams/", "t", ALLOWED)
    assert plan.name == "web-hung" and plan.channel_id.startswith("19:") and len(plan.responders) == 2


def test_the_api_callers_example_is_a_valid_file_once_filled() -> None:
    (caller,) = parse_api_callers(_filled("api-callers.example.json"), ALLOWED)
    assert caller.name == "SRE Agent"


def test_every_field_of_the_examples_says_where_its_value_comes_from() -> None:
    for name, key in (("response-plans.example.json", "responsePlans"), ("api-callers.example.json", "callers")):
        for entry in json.loads((INFRA / name).read_text())[key]:
            fields = [k for k in entry if not k.startswith("$")]
            assert all(f"${k}" in entry for k in fields), (name, [k for k in fields if f"${k}" not in entry])
