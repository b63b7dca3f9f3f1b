"""Metrics (Prometheus), a log line per audit event (the plan id is the correlation id), and traces.

The audit log is the one record of what happened, so metrics and logs hang off it: every audit event is counted
and logged once its unit of work has committed (an event rolled back with its transition is never published).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..domain.audit import AuditEvent, AuditEventName, event_named
from ..domain.plan import ActingIdentity

log = logging.getLogger("bot.audit")
tracer = trace.get_tracer("sre-consent-bot")
E = AuditEventName
CREDENTIAL_EVENTS = {
    E.CREDENTIALS_USED: "used",
    E.CREDENTIALS_REFUSED: "refused",
    E.CREDENTIALS_RELEASED: "released",
    E.CREDENTIALS_DECLINED: "declined",
}


class _PlansByState(Collector):
    def __init__(self, count_by_state: Callable[[], dict[str, int]]) -> None:
        self._count = count_by_state

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily("sre_consent_plans", "Plans in the store, by state", labels=["state"])
        for state, n in sorted(self._count().items()):
            family.add_metric([state], n)
        yield family


class Metrics:
    """The bot's Prometheus registry."""

    def __init__(
        self,
        count_by_state: Callable[[], dict[str, int]],
        outbox_depth: Callable[[], int],
        dead_letters: Callable[[], int] = lambda: 0,
        inbox_depth: Callable[[], int] = lambda: 0,
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("sre_consent_audit_events", "Audit events recorded, by kind", ["event"], registry=r)
        self.approvals = Counter("sre_consent_approvals", "Approvals given", registry=r)
        self.refusals = Counter("sre_consent_refusals", "Clicks and commands refused, by reason", ["code"], registry=r)
        self.credentials = Counter("sre_consent_credential_grants", "User credential grants, by outcome", ["outcome"], registry=r)
        self.execution = Histogram(
            "sre_consent_action_seconds",
            "Time an action took in Azure, by identity and result",
            ["identity", "result"],
            registry=r,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
        )
        Gauge("sre_consent_outbox_depth", "Messages to Teams written but not sent yet", registry=r).set_function(outbox_depth)
        Gauge("sre_consent_outbox_dead_letters", "Messages to Teams and callbacks to agents given up on", registry=r).set_function(
            dead_letters
        )
        Gauge("sre_consent_inbox_depth", "Alert deliveries accepted but not processed yet", registry=r).set_function(inbox_depth)
        self.outbox_sent = Counter("sre_consent_outbox_sent", "Messages sent to Teams, by kind", ["kind"], registry=r)
        self.outbox_retries = Counter("sre_consent_outbox_retries", "Sends to Teams to be tried again, by cause", ["cause"], registry=r)
        r.register(_PlansByState(count_by_state))

    def observe(self, e: AuditEvent) -> None:
        self.events.labels(e.event).inc()
        name = event_named(e.event)
        if name is None:
            return
        if name is E.APPROVAL_GIVEN:
            self.approvals.inc()
        if name.is_refusal and "code" in e.detail:
            self.refusals.labels(e.detail["code"]).inc()
        if name in CREDENTIAL_EVENTS:
            self.credentials.labels(CREDENTIAL_EVENTS[name]).inc()
        if name.is_execution and "seconds" in e.detail:
            # the acting identity as recorded (ActingIdentity), never read from the prose shown to people
            self.execution.labels(e.detail.get("acting", ActingIdentity.USER), name.value).observe(float(e.detail["seconds"]))


class AuditPublisher:
    """A store listener: once a unit of work has committed, count each of its audit events, log it, mark the trace."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def __call__(self, events: Sequence[AuditEvent], messages: int = 0) -> None:
        for event in events:
            self._metrics.observe(event)
            move = f" {event.from_state} -> {event.to_state}" if event.from_state else ""
            log.info(
                "%s by %s%s",
                event.event,
                event.actor_name,
                move,
                extra={"plan_id": event.plan_id, "event": event.event, "detail": event.detail},
            )
            trace.get_current_span().add_event(event.event, {"plan_id": event.plan_id or "", "actor": event.actor})


def configure_tracing(connection_string: str | None) -> bool:
    """Export traces to Application Insights when a connection string is set; otherwise tracing stays a no-op."""
    if not connection_string:
        return False
    from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "sre-consent-bot"}))
    provider.add_span_processor(BatchSpanProcessor(AzureMonitorTraceExporter(connection_string=connection_string)))
    trace.set_tracer_provider(provider)
    return True
