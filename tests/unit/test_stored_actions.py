"""Actions are stored as the exact ARM request; the plan hash covers it; plans stored before keep working."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from bot.adapters.store.codec import plan_from_dict, plan_to_dict
from bot.domain.operations import ArmRequest, Observation, by_key, plan_action
from bot.domain.plan import Plan
from bot.domain.resources import ResourceRef
from tests.unit.factories import WEB01, proposed

SUB = "00000000-0000-0000-0000-0000000000aa"
PLAN_REF = ResourceRef.parse(f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Web/serverfarms/shop-plan")
PLAN_READ = {"location": "westeurope", "sku": {"name": "P1v3", "capacity": 3}, "properties": {"numberOfSites": 1}}


def _scale_plan() -> Plan:
    action = plan_action(by_key("Microsoft.Web/serverfarms/scale"), PLAN_REF, (("capacity", 4),), Observation((("resource", PLAN_READ),)))
    return replace(proposed(), actions=(action,), title="Scale App Service plan shop-plan to 4 instances")


def _first_form_hash(plan: Plan) -> str:
    """The digest cards carried before actions were stored as requests (bot/domain/plan.py of then)."""
    content = {
        "id": plan.id,
        "title": plan.title,
        "rationale": plan.rationale,
        "actions": [[a.operation.value, a.resource.id.lower()] for a in plan.actions],
        "requested_by": plan.requested_by.object_id,
        "mode": plan.mode.value,
        "approvals_required": plan.policy.approvals_required,
        "approvers": sorted(plan.policy.approvers),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


def test_an_action_is_stored_as_its_exact_request_and_read_back_equal() -> None:
    plan = _scale_plan()
    stored = plan_to_dict(plan)
    assert stored["actions"][0]["operation"] == "Microsoft.Web/serverfarms/scale"
    assert stored["actions"][0]["request"] == {
        "method": "PUT",
        "path": PLAN_REF.id,
        "api_version": "2024-04-01",
        "body": {**PLAN_READ, "sku": {"name": "P1v3", "capacity": 4}},
        "if_match": None,
        "shown": ["sku.capacity"],
    }
    back = plan_from_dict(json.loads(json.dumps(stored)))
    assert back == plan and back.content_hash == plan.content_hash


def test_the_plan_hash_covers_the_request_and_the_state_shown() -> None:
    plan = _scale_plan()
    action = plan.actions[0]
    other_body = ArmRequest.of(
        "PUT", action.request.path, action.request.api_version, {**PLAN_READ, "sku": {"capacity": 9}}, shown=("sku.capacity",)
    )
    assert replace(plan, actions=(replace(action, request=other_body),)).content_hash != plan.content_hash
    assert replace(plan, actions=(replace(action, before=(("Instance count", "2"),)),)).content_hash != plan.content_hash
    newer_api = ArmRequest.of("PUT", action.request.path, "2099-01-01", action.request.body, shown=action.request.shown)
    assert replace(plan, actions=(replace(action, request=newer_api),)).content_hash != plan.content_hash


def test_a_plan_stored_before_requests_reads_back_with_its_cards_digest_and_the_vm_request() -> None:
    plan = proposed()
    old = plan_to_dict(plan)
    old["actions"] = [{"operation": "restart", "resource_id": WEB01.id}]  # the stored form of then
    old["power_states"] = {WEB01.id.lower(): "running"}
    del old["observed"], old["hash_form"]
    back = plan_from_dict(old)
    assert back.hash_form == 1 and back.content_hash == _first_form_hash(back)  # its posted cards still click
    assert back.actions[0].request == ArmRequest.of("POST", f"{WEB01.id}/restart", "2024-07-01")
    assert back.observed_facts(WEB01) == (("Power state", "running"),)
    assert plan_from_dict(json.loads(json.dumps(plan_to_dict(back)))).content_hash == back.content_hash  # and keeps it
