"""Wires the concrete adapters to the services, from Settings. The only place that chooses adapters."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge

from cards.view import SsoSettings, Viewer

from .adapters.azure.alerts import ArmAlerts
from .adapters.azure.arm_runner import ArmRunner
from .adapters.azure.credentials import AzureCredentialBroker
from .adapters.azure.graph import GraphDirectory
from .adapters.azure.outbound import OutboundSession
from .adapters.azure.sso import SsoVerifier
from .adapters.azure.tokens import EntraTokenValidator
from .adapters.callbacks import CallbackSender
from .adapters.clock import BackgroundTasks, SystemClock
from .adapters.conversation.approvals import Approvals, ApprovalsChannel
from .adapters.conversation.core import BotOptions, Conversation
from .adapters.conversation.roster import ReadPace
from .adapters.conversation.sdk import Endpoint, SdkParts, load_sdk
from .adapters.http.incidents_api import alert_processor
from .adapters.http.plan_watch import PlanWatch
from .adapters.inbox import Inbox, InboxWorker, Process
from .adapters.instances import LiveInstances
from .adapters.observability import AuditPublisher, Metrics
from .adapters.outbox import OutboxWorker
from .adapters.store.sqlite import SqliteStore
from .config import Settings
from .domain.approvers import approvers_in_force
from .domain.plan import Plan
from .ports import Clock, Notifier
from .services.agent_callbacks import AgentCallbacks
from .services.deps import Deps
from .services.follow_up import FollowUps
from .startup import store_problem

if TYPE_CHECKING:  # the Azure Storage SDKs are imported only with STORE=azure-tables (start-up: docs/benchmarks.md)
    from .adapters.store.tables import TableStore


@dataclass
class Container:
    settings: Settings
    deps: Deps
    store: SqliteStore | TableStore
    tasks: BackgroundTasks
    sdk: SdkParts  # the Teams SDK adapter BOT_SDK chose (its modules are imported only when chosen)
    conversation: Conversation
    endpoint: Endpoint  # /api/messages on that SDK
    runner: ArmRunner
    broker: AzureCredentialBroker
    validator: EntraTokenValidator
    metrics: Metrics
    outbox: OutboxWorker
    inbox: Inbox  # the store's inbox table (STORE=sqlite) or a Storage Queue (STORE=azure-tables)
    notifier: Notifier  # used by the outbox worker only: the services write messages to the outbox
    watch: PlanWatch | None = None  # what long-polls and wait_for_plan wait on: a plan's next version, from any instance
    metrics_url: str | None = None  # set once the METRICS_PORT listener is up
    readiness_url: str | None = None  # its /readyz: the readiness detail the public /readyz leaves out
    outbound: OutboundSession | None = None  # the one session for Graph and Azure Monitor's alerts API

    @property
    def auth(self) -> Any:
        """The SDK's authentication object (botbuilder: CachingBotFrameworkAuthentication; agents: ChannelAuthenticator)."""
        return self.sdk.auth

    @property
    def adapter(self) -> Any:
        """The SDK's adapter (botbuilder: CloudAdapter; agents: None, its CloudAdapter lives in the endpoint)."""
        return self.sdk.adapter

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """What pretty printers (a failing test's report) show: the settings (secrets left out), not every part."""
        p.text(f"Container(settings={self.settings!r})")

    async def idle(self) -> bool:
        """Everything the bot was going to do after its last answer is done: no background task running, no alert
        waiting in the inbox, no message waiting in the outbox (dead letters aside). Looked at in the direction work
        flows (an alert's commit may start a task, an execution; a task writes messages; the outbox sends them), so work
        moving downstream meanwhile is still seen: a task started by an alert and ending while the outbox was read (its
        result message written just after) is not missed."""
        return await self.inbox.idle() and self.tasks.pending == 0 and await self.outbox.idle()

    async def close(self) -> None:
        if self.watch is not None:
            await self.watch.close()
        await self.inbox.stop()
        await self.tasks.drain()
        await self.outbox.stop()  # what is not sent yet stays in the outbox for the next start
        await self.outbox.close()
        await self.runner.close()
        await self.broker.close()
        await self.sdk.close()
        if self.outbound is not None:
            await self.outbound.close()
        if isinstance(self.store, SqliteStore):
            self.store.close()
        else:
            await self.store.aclose()


def make_store(settings: Settings, credential: Any) -> SqliteStore | TableStore:
    """STORE=sqlite: the local file. STORE=azure-tables: Table Storage, by connection string when set, else the account URL
    and the runtime's identity (AZURE_STORAGE_CLIENT_ID's managed identity, else the agent identity)."""
    owner, lease_seconds = settings.store.instance_id, settings.store.execution_lease_seconds
    if settings.store.kind == "azure-tables":
        from .adapters.store.tables import TableStore

        client: dict[str, Any] = {"connection_verify": settings.azure.ca_bundle} if settings.azure.ca_bundle else {}
        if settings.store.connection_string:
            return TableStore.from_connection_string(
                settings.store.connection_string, settings.store.table_prefix, owner=owner, lease_seconds=lease_seconds, **client
            )
        return TableStore.from_account_url(
            settings.store.account_url, credential, settings.store.table_prefix, owner=owner, lease_seconds=lease_seconds, **client
        )
    try:
        return SqliteStore(settings.store.path, settings.store.sqlite_wal, owner, lease_seconds)
    except (OSError, sqlite3.Error) as e:  # opening the file is the store's first call: said once, naming STORE_PATH
        raise store_problem(settings.store, e) from None


def bootstrap(settings: Settings, clock: Clock | None = None) -> Container:
    """Build the bot from settings; `clock` may be replaced (tests move time forward)."""
    clock = clock or SystemClock()
    tasks = BackgroundTasks()
    card_for = card_renderer(settings, clock)
    broker = make_broker(settings)
    store = make_store(settings, broker.runtime(settings.azure.storage_client_id))
    runner = ArmRunner(
        settings.azure.arm_endpoint,
        broker.agent(),
        settings.azure.default_subscription_id,
        ca_bundle=settings.azure.ca_bundle,
        polling_interval=settings.azure.arm_polling_interval,
    )
    shared_view = Viewer(can_act=settings.policy.buttons_for_everyone)  # what people without their own refreshed view see
    instances = LiveInstances(store, store.leases.owner, settings.store.execution_lease_seconds, settings.limits.teams_sends_per_second)
    sdk = load_sdk(settings.teams.bot_sdk, settings, lambda plan, ids: card_for(plan, shared_view, ids), instances.pace.read)
    outbound = OutboundSession(settings.azure.ca_bundle)  # Graph's and the alerts API's calls share its connections
    directory = GraphDirectory(settings.azure.graph_endpoint, broker.agent(), session=outbound)
    metrics = Metrics(store.count_by_state, store.outbox_depth, store.dead_letters, store.inbox_depth)
    store.subscribe(AuditPublisher(metrics))  # metrics and log lines once a unit of work has committed
    deps = make_deps(settings, store, runner, broker, clock, tasks, directory, outbound)
    validator = EntraTokenValidator(settings.azure.authority_host, settings.teams.allowed_tenants, settings.azure.ca_bundle)
    approvals = make_approvals(settings, sdk.notifier, store, directory)
    conversation = make_conversation(settings, deps, card_for, validator, approvals, instances.pace.read)
    outbox = make_outbox(settings, store, sdk.notifier, deps, metrics, instances)
    processor = alert_processor(deps, settings.policy, settings.api)
    inbox = make_inbox(settings, store, clock, broker.runtime(settings.azure.storage_client_id), processor)
    parked = Gauge("sre_consent_inbox_parked", "Alerts given up after repeated failures (parked)", registry=metrics.registry)
    parked.set_function(inbox.parked)
    endpoint = sdk.endpoint_for(conversation)
    watch = PlanWatch(store)
    store.subscribe(watch.committed)  # a commit of this instance is seen at once; others' within the watch's poll
    parts = (settings, deps, store, tasks, sdk, conversation, endpoint, runner, broker, validator, metrics, outbox, inbox, sdk.notifier)
    return Container(*parts, watch, outbound=outbound)


CardFor = Callable[..., dict[str, Any]]


def card_renderer(settings: Settings, clock: Clock) -> CardFor:
    """The plan card as `viewer` sees it now, with the SSO settings the sign-in button needs."""
    sso = SsoSettings(settings.teams.oauth_connection_name, settings.teams.sso_app_id_uri)

    def card_for(plan: Plan, viewer: Viewer, user_ids: list[str] | None = None) -> dict[str, Any]:
        from cards.plan_card import plan_card  # the card models are imported with the first card, not at start-up

        now: datetime = clock.now()
        return plan_card(plan, viewer, now, refresh_user_ids=user_ids, sso=sso)

    return card_for


def make_broker(settings: Settings) -> AzureCredentialBroker:
    """The agent identity and the On-Behalf-Of exchange for an approver's ARM token."""
    return AzureCredentialBroker(
        tenant_id=settings.azure.tenant_id,
        authority_host=settings.azure.authority_host,
        agent_client_id=settings.azure.agent_client_id or None,
        agent_client_secret=settings.azure.agent_client_secret or None,
        obo_client_id=settings.teams.sso_client_id or None,
        obo_client_secret=settings.teams.sso_client_secret or None,
        user_scope=f"{settings.azure.arm_endpoint}/user_impersonation",
        ca_bundle=settings.azure.ca_bundle,
        timeout=settings.limits.outbound_timeout,
    )


def make_deps(
    settings: Settings,
    store: SqliteStore | TableStore,
    runner: ArmRunner,
    broker: AzureCredentialBroker,
    clock: Clock,
    tasks: BackgroundTasks,
    directory: GraphDirectory,
    outbound: OutboundSession | None = None,
) -> Deps:
    """What every service is given: the ports and the policy they apply (every click judged against the configuration
    this process runs with, not only the plan's copy of it)."""
    policy, fu, api = settings.policy, settings.follow_up.schedule, settings.api
    return Deps(
        store=store,
        audit=store,
        runner=runner,
        broker=broker,
        clock=clock,
        tasks=tasks,
        allowed_tenants=settings.teams.allowed_tenants,
        directory=directory,
        allowed_scopes=settings.azure.allowed_scopes,
        home_subscription=settings.azure.default_subscription_id,
        alerts=ArmAlerts(settings.azure.arm_endpoint, broker.agent(), settings.azure.ca_bundle, session=outbound),
        follow_up=fu,
        plans_url=f"{api.public_url}/api/plans",
        callbacks=AgentCallbacks(f"{api.public_url}/api/plans", clock),
        approvers_now=lambda plan: approvers_in_force(plan, policy.consent, policy.response_plans, api.api_callers, fu.escalate_to),
    )


def make_approvals(settings: Settings, notifier: Notifier, store: SqliteStore | TableStore, directory: GraphDirectory) -> Approvals:
    """Where approvers are asked when the requester's chat will not do, and who they are."""
    channel = ApprovalsChannel(
        settings.policy.approvals_channel,
        # without Bot Framework authentication (ANONYMOUS_ALLOWED, loopback only) the one Teams is the local client
        # that asked, such as the Agents Playground: its channel, on its service URL, not TEAMS_SERVICE_URL's
        "" if settings.teams.anonymous_allowed else settings.teams.teams_service_url,
        settings.azure.tenant_id or settings.teams.app_tenant_id,
    )
    return Approvals(
        channel,
        getattr(notifier, "roster", None),
        store,
        is_member=lambda oid, group: directory.is_member(oid, group, fresh=False),
        group_members=directory.group_members,
    )


def make_follow_ups(settings: Settings, approvals: Approvals) -> FollowUps:
    """Reminders and escalation reach approvers as the approvals channel's notes do; the escalation channel is on the
    bot's home service URL and tenant."""
    tenant = settings.azure.tenant_id or settings.teams.app_tenant_id
    return FollowUps(approvals, settings.follow_up.channel(settings.teams.teams_service_url, tenant))


def make_conversation(
    settings: Settings, deps: Deps, card_for: CardFor, validator: EntraTokenValidator, approvals: Approvals, pace: ReadPace
) -> Conversation:
    """The Teams conversation: commands, card clicks and sign-in, over either SDK."""
    verifier = SsoVerifier(validator, [settings.teams.sso_app_id_uri, settings.teams.sso_client_id], settings.teams.sso_client_id)
    options = BotOptions(
        settings.policy.consent,
        settings.teams.oauth_connection_name,
        settings.teams.sso_app_id_uri,
        settings.policy.allow_guests,
        settings.limits.rate_person_per_minute,
        settings.limits.rate_conversation_per_minute,
    )
    return Conversation(deps, options, lambda plan, viewer: card_for(plan, viewer), verifier, approvals, pace)


def make_outbox(
    settings: Settings, store: SqliteStore | TableStore, notifier: Notifier, deps: Deps, metrics: Metrics, instances: LiveInstances
) -> OutboxWorker:
    """Sends what the services wrote to the outbox, once each, after their commit, at this instance's share of Teams'
    limits (the instances alive, counted in the store)."""
    limits = settings.limits
    alive = Gauge("sre_consent_instances_alive", "Instances of the bot alive, sharing Teams' limits", registry=metrics.registry)
    alive.set_function(lambda: instances.count)
    callbacks = CallbackSender(
        settings.api.api_callers or (),
        settings.api.callback_secrets,
        ca_bundle=settings.azure.ca_bundle,
        timeout=limits.outbound_timeout,
        max_attempts=limits.callback_max_attempts,
        first_retry=limits.callback_retry,
        max_retry_after=limits.outbox_max_backoff,
    )
    outbox = OutboxWorker(
        store,
        notifier,
        deps,
        metrics,
        max_attempts=limits.outbox_max_attempts,
        max_backoff=limits.outbox_max_backoff,
        owner=store.leases.owner,
        claim_seconds=settings.store.execution_lease_seconds,
        instances=instances,
        callbacks=callbacks,
    )
    store.subscribe(outbox.committed)
    return outbox


def make_inbox(settings: Settings, store: SqliteStore | TableStore, clock: Clock, credential: Any, process: Process) -> Inbox:
    """STORE=sqlite: the store's inbox table. STORE=azure-tables: a Storage Queue shared by the instances, reached
    like the table store (connection string, else the queue endpoint and the runtime's identity)."""
    limits = settings.limits
    if settings.store.kind != "azure-tables":
        return InboxWorker(store, process, max_attempts=limits.outbox_max_attempts, max_backoff=limits.outbox_max_backoff)
    from .adapters.queue_inbox import QueueInbox, clients

    client: dict[str, Any] = {"connection_verify": settings.azure.ca_bundle} if settings.azure.ca_bundle else {}
    queue, poison = clients(
        settings.store.inbox_queue_name,
        connection_string=settings.store.connection_string,
        account_url=settings.store.queue_url,
        credential=credential,
        **client,
    )
    return QueueInbox(
        store,
        queue,
        poison,
        process,
        clock,
        visibility_timeout=limits.inbox_visibility_timeout,
        max_dequeue_count=limits.inbox_max_dequeue_count,
        max_backoff=limits.outbox_max_backoff,
        owner=store.leases.owner,
    )
