"""The aiohttp application: /api/messages, /api/plans, /api/operations, /mcp, /api/incidents, /healthz, /readyz;
/metrics and the readiness detail apart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .adapters.http.api_auth import ApiAuth
from .adapters.http.incidents_api import IncidentsApi
from .adapters.http.mcp_http import McpEndpoint
from .adapters.http.operations import OperationsApi
from .adapters.http.plans_api import PlansApi
from .bootstrap import Container, make_follow_ups
from .services.follow_up import follow_up_due
from .services.housekeeping import expire_due, recover_interrupted
from .services.repair_cards import repair_cards
from .startup import port_problem, said_once, store_problem

if TYPE_CHECKING:
    from .adapters.http.mcp_tools import McpTools

log = logging.getLogger(__name__)
tracer = trace.get_tracer("sre-consent-bot")
MAX_BODY = 256 * 1024  # Azure Monitor's common-schema cap; more than any Teams activity


@web.middleware
async def traced(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One span per request, named by route (not by path: plan ids would explode cardinality)."""
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    with tracer.start_as_current_span(f"{request.method} {route}", kind=trace.SpanKind.SERVER) as span:
        span.set_attribute("http.request.method", request.method)
        span.set_attribute("http.route", route)
        response = await handler(request)
        span.set_attribute("http.response.status_code", response.status)
        return response


PRIVACY = (
    "SRE consent bot stores, for each execution plan, who asked, who approved or denied, and what ran, "
    "in its own store and audit log. It never stores sign-in tokens or credentials."
)
TERMS = "This bot is operated by your organisation's SRE team for its own Azure resources."


CONTAINER = web.AppKey("container", Container)


def create_app(container: Container) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[traced])
    app[CONTAINER] = container
    s = container.settings
    api = PlansApi(
        container.deps,
        container.validator,
        s.api,
        s.teams,
        s.policy.consent,
        s.azure.allowed_scopes,
        s.limits.rate_api_per_minute,
        container.conversation.approvals,
        container.watch.changed if container.watch is not None else None,
    )
    incidents = IncidentsApi(s.api, container.validator, container.inbox)
    app.router.add_post("/api/messages", messages)
    app.router.add_post("/api/plans", api.submit)
    app.router.add_get("/api/plans/{plan_id}", api.get)
    app.router.add_get("/api/operations", OperationsApi(api.auth).get)
    _mcp(app, container, api)
    app.router.add_post("/api/incidents", incidents.receive)
    app.router.add_get("/api/incidents/status", incidents.status)
    app.router.add_get("/privacy", lambda r: page(PRIVACY))
    app.router.add_get("/terms", lambda r: page(TERMS))
    app.router.add_get("/", lambda r: page("SRE consent bot for Microsoft Teams. Messaging endpoint: /api/messages"))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if container.watch is not None:  # held long-polls and wait_for_plan calls are answered before connections close
        app.on_shutdown.append(container.watch.close)
    app.cleanup_ctx.append(_lifecycle(container))
    if container.settings.observability.metrics_port is not None:
        app.cleanup_ctx.append(_metrics_server(container))
    return app


def _mcp(app: web.Application, container: Container, api: PlansApi) -> None:
    """/mcp and its protected-resource metadata: the plans API's tools for MCP clients, authenticated the same way."""
    if container.watch is None:
        return
    changed = container.watch.changed

    def tools() -> McpTools:  # with the first request to /mcp: the MCP SDK is imported then (mcp_http.py)
        from .adapters.http import mcp_tools

        return mcp_tools.McpTools(api, changed)

    McpEndpoint(ApiAuth(container.validator, container.settings.api), tools, container.settings.api, MAX_BODY).routes(app)


async def messages(request: web.Request) -> web.StreamResponse:
    """/api/messages: a Bot Framework activity, handed to the SDK adapter once it looks like one."""
    if "application/json" not in request.headers.get("Content-Type", ""):
        return web.json_response({"error": "Content-Type must be application/json"}, status=415)
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "the body is not valid JSON"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not body.get("serviceUrl"):
        return web.json_response({"error": "expected a Bot Framework activity with type and serviceUrl"}, status=400)
    try:
        response = await request.app[CONTAINER].endpoint.process(request)
    except web.HTTPUnauthorized:
        # the SDK adapter's answer to a failed Bot Framework authentication (logged as a refusal in its
        # auth module): the activity was not processed at all
        return web.json_response(
            {
                "error": "Bot Framework authentication failed: the activity needs a valid channel "
                "token for this bot (Authorization: Bearer ...); it was not processed"
            },
            status=401,
        )
    return response if response is not None else web.Response(status=201)


async def page(text: str) -> web.Response:
    return web.Response(text=text)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Public readiness: the status and each check's ok or failed, nothing more (no counts, no error texts: anyone who
    can reach /api/messages can reach this). The detail is on the metrics listener's /readyz."""
    ok, checks = await readiness(request.app[CONTAINER])
    public = {name: "ok" if passed else "failed" for name, (passed, _) in checks.items()}
    return web.json_response({"status": "ready" if ok else "not ready", "checks": public}, status=200 if ok else 503)


async def readyz_detail(container: Container) -> web.Response:
    """The operators' readiness, on the metrics listener only: depths, counts and what failed, in words."""
    ok, checks = await readiness(container)
    detail: dict[str, object] = {}
    for _, shown in checks.values():
        detail.update(shown)
    detail["background_tasks"] = container.tasks.pending
    return web.json_response({"status": "ready" if ok else "not ready", "checks": detail}, status=200 if ok else 503)


Check = tuple[bool, dict[str, object]]  # (passed, what the operators' detail shows of it)


async def readiness(container: Container) -> tuple[bool, dict[str, Check]]:
    """Ready while the store answers; the outbox, the inbox and the directory are shown, not judged."""
    try:
        store_ok = await asyncio.to_thread(container.store.ping)
    except Exception:
        store_ok = False
    directory = container.deps.directory  # approver groups: the last Graph failure, if any (not fatal to readiness)
    problem = directory.problem() if directory else None
    checks = {"store": (bool(store_ok), {"store": bool(store_ok)}), **await _queues(container)}
    checks["directory"] = (problem is None, {"directory": problem or "ok"})
    return bool(store_ok), checks


async def _queues(container: Container) -> dict[str, Check]:
    """The outbox and the inbox: their depth, and what was given up on."""
    try:
        depth, dead, failed_alerts, parked = await asyncio.to_thread(
            lambda: (
                container.store.outbox_depth(),
                container.store.dead_letters(),
                container.store.failed_alerts(),
                container.inbox.parked(),
            )
        )
    except Exception:
        depth, dead, failed_alerts, parked = -1, -1, -1, -1
    # dead letters do not make the instance unready (another instance would do no better), but they are shown
    outbox = (
        "ok"
        if dead == 0
        else f"{dead} message(s) to Teams or callbacks to agents could not be delivered and were given up (audit: outbox_dead_letter)"
    )
    # parked alerts, like dead letters, are shown without making the instance unready
    inbox = (
        "ok"
        if parked == 0
        else (
            f"{parked} alert(s) could not be processed and were parked in {container.inbox.where_parked()} "
            "(audit: alert_parked names each key); act on those alerts by hand from Azure Monitor"
        )
    )
    cardless = container.metrics.cardless
    return {
        "outbox": (
            outbox == "ok" and depth >= 0,
            {
                "outbox_depth": depth,
                "outbox": outbox,
                "outbox_dead_letters": dead,
                "instances_alive": container.outbox.instances.count if container.outbox.instances is not None else 1,
            },
        ),
        "cards": (
            cardless == 0,
            {
                "plans_without_card": cardless,
                "cards": "ok"
                if cardless == 0
                else (
                    f"{cardless} waiting plan(s) had no card in Teams at the last sweep: each is posted again once, then "
                    "expired (audit: card_reposted, plan_expired)"
                ),
            },
        ),
        "inbox": (inbox == "ok" and failed_alerts >= 0, {"inbox_failed": failed_alerts, "inbox": inbox, "inbox_parked": parked}),
    }


def _metrics_server(container: Container):  # type: ignore[no-untyped-def]
    """/metrics and the detailed /readyz on their own listener (METRICS_HOST:METRICS_PORT, loopback by default), never
    on the public port: plan counts, refusal codes, queue depths and error texts are for the operators, not for anyone
    who can reach /api/messages."""

    async def metrics(request: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, container.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def ready(request: web.Request) -> web.Response:
        return await readyz_detail(container)

    async def serve(app: web.Application) -> AsyncIterator[None]:
        metrics_app = web.Application()
        metrics_app.router.add_get("/metrics", metrics)
        metrics_app.router.add_get("/readyz", ready)  # the detail the public /readyz leaves out
        runner = web.AppRunner(metrics_app, access_log=None)
        await runner.setup()
        s = container.settings.observability
        site = web.TCPSite(runner, s.metrics_host, s.metrics_port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise port_problem("METRICS_PORT", s.metrics_host, s.metrics_port or 0, e, host_setting="METRICS_HOST") from None
        port = runner.addresses[0][1] if runner.addresses else s.metrics_port
        host = f"[{s.metrics_host}]" if ":" in s.metrics_host else s.metrics_host
        container.metrics_url = f"http://{host}:{port}/metrics"
        container.readiness_url = f"http://{host}:{port}/readyz"
        log.info("metrics served at %s", container.metrics_url)
        yield
        await runner.cleanup()

    return serve


def _lifecycle(container: Container):  # type: ignore[no-untyped-def]
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        # start-up never waits on Teams: recovery commits each transition with its messages, the outbox sends them.
        # It is also the first call to the store: a store that cannot be reached is said once, naming its settings.
        try:
            with said_once():
                recovered = await recover_interrupted(container.deps)
        except Exception as e:
            await container.close()
            raise store_problem(container.settings.store, e) from None
        for plan in recovered:
            log.warning("plan %s was interrupted by a restart; its thread will be told", plan.id, extra={"plan_id": plan.id})
        await container.outbox.count_instances()  # before the first send: each takes its share of Teams' limits
        container.outbox.start()
        container.inbox.start()
        sweeper = asyncio.create_task(_sweep(container), name="expiry sweeper")
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await container.close()

    return lifecycle


async def _sweep(container: Container) -> None:
    follow_ups = make_follow_ups(container.settings, container.conversation.approvals)
    while True:
        await asyncio.sleep(container.settings.limits.sweep_interval)
        try:
            for plan in await expire_due(container.deps):
                log.info("plan %s expired", plan.id, extra={"plan_id": plan.id})
            await _repair_cards(container)
            # plans still waiting: their approvers reminded, the plan escalated, the requester warned (once each)
            for taken in await follow_up_due(container.deps, follow_ups):
                log.info("plan %s: %s", taken.plan.id, taken.step.value, extra={"plan_id": taken.plan.id})
            # a plan whose instance died (its execution lease lapsed) is ended by whichever instance is still up
            for plan in await recover_interrupted(container.deps):
                log.warning(
                    "plan %s was interrupted: the instance running it stopped renewing its lease", plan.id, extra={"plan_id": plan.id}
                )
        except Exception:
            log.exception("expiry sweep failed; retrying at the next interval")


async def _repair_cards(container: Container) -> None:
    """Waiting plans whose card never reached Teams: counted (/readyz, /metrics), posted again or expired."""
    repairs = await repair_cards(container.deps)
    container.metrics.cardless = repairs.found
    container.metrics.card_repairs.labels("reposted").inc(len(repairs.reposted))
    container.metrics.card_repairs.labels("expired").inc(len(repairs.expired))
