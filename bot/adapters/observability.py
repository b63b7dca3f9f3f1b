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
from ..domain.plan import WAITING_STATES, ActingIdentity, PlanState

log = logging.getLogger("bot.audit")
tracer = trace.get_tracer("sre-consent-bot")
E = AuditEventName
CREDENTIAL_EVENTS = {
    E.CREDENTIALS_USED: "used",
    E.CREDENTIALS_REFUSED: "refused",
    E.CREDENTIALS_RELEASED: "released",
    E.CREDENTIALS_DECLINED: "declined",
}


S = PlanState
# (from, to) of a decision on a plan's request -> its outcome (sre_consent_decisions_total)
DECISIONS = {
    (a.value, b.value): outcome
    for a, b, outcome in (
        (S.AWAITING_CONSENT, S.APPROVED, "approved"),
        (S.AWAITING_CONSENT, S.DENIED, "denied"),
        (S.AWAITING_CONSENT, S.EXPIRED, "expired"),
        (S.AWAITING_CREDENTIALS, S.EXECUTING_AS_USER, "credentials_lent"),
        (S.AWAITING_CREDENTIALS, S.CREDENTIALS_DENIED, "credentials_declined"),
        (S.AWAITING_CREDENTIALS, S.EXPIRED, "credentials_expired"),
    )
}
# a person's answer on a card: one span each (with the plan, its source, the answer, who gave it and the outcome)
DECIDED_BY_A_PERSON = {E.APPROVAL_GIVEN: "approve", E.PLAN_DENIED: "deny", E.CREDENTIALS_USED: "grant", E.CREDENTIALS_DECLINED: "cancel"}
# seconds people wait for: from a minute to the longest expiry anyone would configure
WAIT_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 86400)


class _PlansByState(Collector):
    def __init__(self, count_by_state: Callable[[], dict[str, int]], name: str, doc: str, only: frozenset[str] | None = None) -> None:
        self._count, self._name, self._doc, self._only = count_by_state, name, doc, only

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily(self._name, self._doc, labels=["state"])
        counts = self._count()
        if self._only is not None:  # every state asked for, zero included: a dashboard sees "nobody waits"
            counts = {state: counts.get(state, 0) for state in self._only}
        for state, n in sorted(counts.items()):
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
        self.cardless = 0  # set by each sweep (bot/app.py): waiting plans whose card never reached Teams
        Gauge(
            "sre_consent_plans_without_card",
            "Plans waiting for consent or credentials whose card is neither in Teams nor waiting to be sent (last sweep)",
            registry=r,
        ).set_function(lambda: self.cardless)
        self.card_repairs = Counter("sre_consent_card_repairs", "Cardless plans repaired, by outcome", ["outcome"], registry=r)
        self.outbox_sent = Counter("sre_consent_outbox_sent", "Messages sent to Teams, by kind", ["kind"], registry=r)
        self.outbox_retries = Counter("sre_consent_outbox_retries", "Sends to Teams to be tried again, by cause", ["cause"], registry=r)
        r.register(_PlansByState(count_by_state, "sre_consent_plans", "Plans in the store, by state"))
        r.register(
            _PlansByState(
                count_by_state,
                "sre_consent_plans_waiting",
                "Plans waiting for a person (consent or credentials), by state",
                frozenset(s.value for s in WAITING_STATES),
            )
        )
        self._approval_metrics(r)

    def _approval_metrics(self, r: CollectorRegistry) -> None:
        """How long people take to answer, and what is done about plans nobody answers."""
        self.time_to_decision = Histogram(
            "sre_consent_time_to_decision_seconds",
            "Time from a plan's card to its consent decision (approved, or denied), by where the plan came from",
            ["source"],
            registry=r,
            buckets=WAIT_BUCKETS,
        )
        self.time_to_end = Histogram(
            "sre_consent_time_to_end_seconds",
            "Time from a plan's proposal to its end (succeeded, denied, expired, failed, ...), by where it came from",
            ["source"],
            registry=r,
            buckets=WAIT_BUCKETS,
        )
        self.decisions = Counter("sre_consent_decisions", "Requests to people answered (or expired), by outcome", ["outcome"], registry=r)
        self.reminders = Counter("sre_consent_reminders", "Plans whose approvers were reminded", registry=r)
        self.escalations = Counter("sre_consent_escalations", "Plans escalated to the escalation approvers", registry=r)

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
        self._observe_approval(e, name)

    def _observe_approval(self, e: AuditEvent, name: AuditEventName) -> None:
        source = e.detail.get("source", "")
        outcome = DECISIONS.get((e.from_state or "", e.to_state or ""))
        if outcome is not None:
            self.decisions.labels(outcome).inc()
            if e.from_state == S.AWAITING_CONSENT.value and outcome != "expired" and "waited_seconds" in e.detail:
                self.time_to_decision.labels(source).observe(float(e.detail["waited_seconds"]))
        if "lifetime_seconds" in e.detail:
            self.time_to_end.labels(source).observe(float(e.detail["lifetime_seconds"]))
        if name is E.REMINDED:
            self.reminders.inc()
        if name is E.ESCALATED:
            self.escalations.inc()


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
            traced(event)


def traced(event: AuditEvent) -> None:
    """A span per decision a person makes on a card (a child of the request that carried it), and the plan's facts on
    the span of its execution (the background task that runs it): plan id, source, decision, approver, acting
    identity, outcome. Attribute names follow OpenTelemetry's rules (lower case, dot-separated namespaces); `user.id`
    is the semantic convention for the person acting."""
    name = event_named(event.event)
    facts = {"plan.id": event.plan_id or "", "plan.source": event.detail.get("source", ""), "plan.outcome": event.to_state or ""}
    if name in DECIDED_BY_A_PERSON:
        decision = {"plan.decision": DECIDED_BY_A_PERSON[name], "user.id": event.actor}
        acting = {"plan.acting_identity": event.detail["acting"]} if "acting" in event.detail else {}
        with tracer.start_as_current_span(f"plan {DECIDED_BY_A_PERSON[name]}", attributes={**facts, **decision, **acting}):
            pass
    elif name is not None and (name.is_execution or name is E.EXECUTION_STARTED):
        span = trace.get_current_span()
        span.set_attributes({**facts, "plan.acting_identity": event.detail.get("acting", ActingIdentity.USER.value)})


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
