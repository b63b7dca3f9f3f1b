"""Microsoft.Web: web apps, their deployment slots, and App Service plans (api-version 2024-04-01).

Web apps (https://learn.microsoft.com/rest/api/appservice/web-apps): `POST {app}/restart`, `/start`, `/stop`, each
answered 200 (synchronous); the state is `GET {app}` (`properties.state`: Running or Stopped).
Slots: `POST {app}/slots/{slot}/slotsswap` with `{"targetSlot", "preserveVnet"}` ("Swap Slot": 200 or 202, then
`Location`); the slots are `GET {app}/slots` ("List Slots"; production is the app itself).
App Service plans (https://learn.microsoft.com/rest/api/appservice/app-service-plans): the instance count is
`sku.capacity`, written with "Create Or Update" (`PUT {plan}`: 200 or 202) because "Update" (PATCH) takes no `sku`:
the plan as read, written back with `sku.capacity` changed (what `az appservice plan update --number-of-workers` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..names import slot_name_problem
from ..resources import require_type
from .compute import COUNT, _capacity_after
from .params import Param, ParamKind, ParamValue
from .request import get_path, with_path
from .spec import AfterFn, Facts, Observation, OperationSpec, PlanContext, Read, StateSpec, Unplannable

API = "2024-04-01"
_REST = "https://learn.microsoft.com/rest/api/appservice"


SITES, SLOTS, PLANS = (
    require_type("Microsoft.Web/sites"),
    require_type("Microsoft.Web/sites/slots"),
    require_type("Microsoft.Web/serverfarms"),
)
STATE = "State"


def _site_facts(o: Observation) -> Facts:
    state = get_path(o.body(), "properties.state")
    return ((STATE, str(state)),) if state else ()


def slot_names(o: Observation) -> list[str]:
    """The app's slots, production first (List Slots names them `<app>/<slot>`)."""
    listed = (o.body("slots") or {}).get("value") or []
    return ["production", *sorted(str(s.get("name", "")).rsplit("/", 1)[-1] for s in listed)]


def _slot_facts(o: Observation) -> Facts:
    return (("Slots", ", ".join(slot_names(o))),) if o.found else ()


def _plan_facts(o: Observation) -> Facts:
    sku = get_path(o.body(), "sku") or {}
    facts = [(COUNT, str(sku["capacity"]))] if "capacity" in sku else []
    if sku.get("name"):
        facts.append(("Pricing tier", str(sku["name"])))
    return tuple(facts)


STATES: dict[str, StateSpec] = {
    SITES.name: StateSpec((Read("resource", "{id}"),), _site_facts),
    SLOTS.name: StateSpec((Read("resource", "{id}"), Read("slots", "{parent}/slots")), _slot_facts),
    PLANS.name: StateSpec((Read("resource", "{id}"),), _plan_facts),
}


def _state_after(value: str) -> AfterFn:
    def after(before: Facts, params: Mapping[str, ParamValue]) -> Facts:
        return tuple((k, value if k == STATE else v) for k, v in before) or ((STATE, value),)

    return after


def _swap(ctx: PlanContext) -> tuple[str, Any]:
    target, slot = str(ctx.params["targetSlot"]), ctx.ref.name
    if target.lower() == slot.lower():
        raise Unplannable(f"slot {slot} cannot be swapped with itself; name another target slot", "parameters.targetSlot")
    if ctx.observation is not None and ctx.observation.found:
        names = slot_names(ctx.observation)
        if target.lower() not in {n.lower() for n in names}:
            raise Unplannable(f"app {ctx.ref.parents[0]} has no slot {target}; its slots are {', '.join(names)}", "parameters.targetSlot")
    return "/slotsswap", {"targetSlot": target, "preserveVnet": True}


def _plan_scale(ctx: PlanContext) -> tuple[str, Any]:
    read = ctx.observation.body() if ctx.observation else None
    if not isinstance(read, dict) or not isinstance(read.get("sku"), dict):
        raise Unplannable(f"App Service plan {ctx.ref.name} could not be read, so its scale cannot be written back")
    kept = {k: read[k] for k in ("location", "kind", "tags", "sku", "properties") if k in read}
    return "", with_path(kept, "sku.capacity", ctx.params["capacity"])


_SITE_ACTIONS = (
    (
        "restart", "Restart", "Running", "The app's processes restart: requests in flight fail and the first ones after are slower.",
        "Nothing to undo: the app is running again.",
    ),
    ("start", "Start", "Running", "", "Stop it again (stop app)."),
    ("stop", "Stop", "Stopped", "The app stops serving: visitors get an error page until it is started.", "Start it again (start app)."),
)  # fmt: skip
SITE_OPERATIONS = tuple(
    OperationSpec(
        SITES, word, label, "POST", f"/{word}", API, (f"{SITES.name}/{word}/action",), f"{_REST}/web-apps/{word}",
        after=_state_after(final), risk=risk, undo=undo,
    )
    for word, label, final, risk, undo in _SITE_ACTIONS
)  # fmt: skip
SLOT_OPERATIONS = (
    OperationSpec(
        SLOTS, "swap", "Swap", "POST", "/slotsswap", API, (f"{SLOTS.name}/slotsswap/action",), f"{_REST}/web-apps/swap-slot",
        params=(Param("targetSlot", ParamKind.NAME, "The slot to swap with", default="production", rule=slot_name_problem),),
        build=_swap, shown=("targetSlot",), phrase="with {targetSlot}",
        risk="The two slots trade their content and slot-specific settings; the target serves the swapped-in content at once.",
        undo="Swap the same two slots again.",
    ),
)  # fmt: skip
PLAN_OPERATIONS = (
    OperationSpec(
        PLANS, "scale", "Scale", "PUT", "", API, (f"{PLANS.name}/write",), f"{_REST}/app-service-plans/create-or-update",
        params=(Param("capacity", ParamKind.INTEGER, "The number of instances the plan should have", minimum=1, maximum=100),),
        build=_plan_scale, after=_capacity_after(COUNT, "capacity"), shown=("sku.capacity",), phrase="to {capacity} instances",
        risk="Every app in the plan moves to the new instance count; scaling in drops instances and the requests they serve.",
        undo="Scale the plan back to the instance count it had.", needs_state=True,
    ),
)  # fmt: skip
