"""Web apps, deployment slots and App Service plans as App Service serves them (https://learn.microsoft.com/rest/api/appservice).

Web apps: GET (`properties.state`), list by subscription; `POST {app}/restart|start|stop` answer 200 at once.
Slots: GET one, "List Slots" (`GET {app}/slots`, names `<app>/<slot>`); "Swap Slot" (`POST {app}/slots/{slot}/slotsswap`
with `targetSlot`) answers 202 with `Location`, polled until 200. While a swap runs, App Service refuses other
writes to the app with 409 Conflict "Cannot modify this site because another operation is in progress." (observed:
microsoft/azure-pipelines-tasks#11384, microsoft/azure-tools-for-java#2192).
Plans: GET (`sku.capacity`), list; "Create Or Update" (`PUT {plan}`) answers 200 with the plan.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..estate import AppServicePlan, WebApp
from .kit import Arm, Collection, bad_request, json_body, not_found, whole
from .rbac import Caller
from .responses import arm_error

SITES, SLOTS, PLANS = "Microsoft.Web/sites", "Microsoft.Web/sites/slots", "Microsoft.Web/serverfarms"
SITE = Collection[WebApp](SITES, r"microsoft\.web/sites", lambda estate: estate.web_apps)
PLAN = Collection[AppServicePlan](PLANS, r"microsoft\.web/serverfarms", lambda estate: estate.plans)


def site_body(app: WebApp, parent: WebApp | None = None) -> dict[str, Any]:
    name, rid, kind = (f"{parent.name}/{app.name}", parent.slot_id(app.name), SLOTS) if parent else (app.name, app.id, SITES)
    return {
        "id": rid,
        "name": name,
        "type": kind,
        "kind": "app",
        "location": app.location,
        "properties": {"state": app.state, "enabled": True, "hostNames": [f"{name.replace('/', '-')}.azurewebsites.net"]},
    }


def plan_body(p: AppServicePlan) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "type": PLANS,
        "kind": "app",
        "location": p.location,
        "sku": {"name": p.sku, "tier": "PremiumV3", "size": p.sku, "family": "Pv3", "capacity": p.capacity},
        "properties": {"provisioningState": "Succeeded", "status": "Ready", "maximumNumberOfWorkers": 30, "numberOfSites": 1},
    }


list_apps, get_app = SITE.routes(site_body)


@SITE.on("GET", r"/slots")
async def list_slots(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: WebApp) -> web.Response:
    return web.json_response({"value": [site_body(s, found) for s in found.slots.values()]})


@SITE.on("GET", r"/slots/(?P<slot>[^/]+)")
async def get_slot(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: WebApp) -> web.Response:
    slot = _slot(found, m["slot"])
    return web.json_response(site_body(slot, found)) if slot else not_found(SLOTS, f"{found.name}/{m['slot']}", m["rg"])


@SITE.on("POST", r"/(?P<action>restart|start|stop)")
async def app_action(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: WebApp) -> web.Response:
    action = m["action"].lower()
    if refused := arm.guard(caller, f"{SITES}/{action}/action", found.id):
        return refused
    if arm.busy(found):
        return _busy(found)
    arm.wrote(request, caller, found.id, action)
    if action != "restart":
        found.state = "Running" if action == "start" else "Stopped"
    return web.Response(status=200)


@SITE.on("POST", r"/slots/(?P<slot>[^/]+)/slotsswap")
async def swap(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: WebApp) -> web.Response:
    slot = _slot(found, m["slot"])
    if slot is None:
        return not_found(SLOTS, f"{found.name}/{m['slot']}", m["rg"])
    if refused := arm.guard(caller, f"{SLOTS}/slotsswap/action", found.slot_id(slot.name)):
        return refused
    sent = await json_body(request)
    target_name = sent.get("targetSlot") if isinstance(sent, dict) else None
    if not isinstance(target_name, str) or not target_name:
        return bad_request("BadRequest", "targetSlot is required: the slot to swap with ('production' for the app itself).")
    target = found if target_name.lower() == "production" else _slot(found, target_name)
    if target is None or target is slot:
        return bad_request("BadRequest", f"Cannot swap slot '{slot.name}' with '{target_name}': the target slot does not exist.")
    if arm.busy(found):
        return _busy(found)

    def done() -> None:
        slot.content, target.content = target.content, slot.content

    return arm.accept(
        request, caller, found, found.slot_id(slot.name), "slotsswap", "Microsoft.Web", found.location,
        done=done, headers=("Location",), written=sent,
    )  # fmt: skip


def _slot(app: WebApp, name: str) -> WebApp | None:
    """The app's slot so named (ARM compares names case-insensitively)."""
    return next((s for n, s in app.slots.items() if n.lower() == name.lower()), None)


def _busy(app: WebApp) -> web.Response:
    return arm_error(
        409,
        "Conflict",
        f"Cannot modify this site because another operation is in progress. Details: OperationName: SwapSiteSlots, SiteName: {app.name}",
    )


list_plans, get_plan = PLAN.routes(plan_body)


@PLAN.on("PUT")
async def put_plan(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: AppServicePlan) -> web.Response:
    if refused := arm.guard(caller, f"{PLANS}/write", found.id):
        return refused
    sent = await json_body(request)
    capacity = whole(((sent or {}).get("sku") or {}).get("capacity")) if isinstance(sent, dict) else None
    if not isinstance(sent, dict) or not sent.get("location") or capacity is None or capacity < 1:
        return bad_request("BadRequest", "The plan must be written whole: location and sku.capacity (at least 1) are required.")
    arm.wrote(request, caller, found.id, "write", sent)
    found.capacity = capacity
    return web.json_response(plan_body(found))


ROUTES = (list_apps, get_app, list_slots, get_slot, app_action, swap, list_plans, get_plan, put_plan)
