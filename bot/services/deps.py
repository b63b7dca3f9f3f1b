"""What every use case needs, wired once by the bootstrap; plus the save-and-audit step they share."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.audit import AuditEvent, AuditEventName
from ..domain.errors import DirectoryUnavailable, Refusal, RefusalCode
from ..domain.permissions import Permission, permission
from ..domain.plan import Person, Plan
from ..domain.scope import Scope
from ..ports import ActionRunner, AlertsReader, AuditLog, Clock, CredentialBroker, Directory, Notifier, PlanStore, TaskRunner

SYSTEM = Person(object_id="system", name="the bot", tenant_id="")


@dataclass
class Deps:
    store: PlanStore
    audit: AuditLog
    notifier: Notifier
    runner: ActionRunner
    broker: CredentialBroker
    clock: Clock
    tasks: TaskRunner
    allowed_tenants: frozenset[str] = field(default_factory=frozenset)
    directory: Directory | None = None
    allowed_scopes: tuple[Scope, ...] = ()  # ALLOWED_SCOPES; empty refuses every VM
    home_subscription: str = ""  # DEFAULT_SUBSCRIPTION_ID: where chat commands look VMs up by name
    alerts: AlertsReader | None = None  # Azure Monitor's alerts; without it no alert is confirmed (no autonomy)

    async def record(self, plan: Plan | None, actor: Person, event: AuditEventName, before: Plan | None = None,
                     **detail: str) -> None:
        """Append an audit event; `before` gives the from-state when the plan moved."""
        await self.audit.record(
            AuditEvent(
                at=self.clock.now(),
                plan_id=plan.id if plan else None,
                actor=actor.object_id,
                actor_name=actor.name,
                event=event.value,
                from_state=before.state.value if before else None,
                to_state=plan.state.value if plan and before else None,
                detail=detail,
            )
        )

    async def commit(self, before: Plan, after: Plan, actor: Person, event: AuditEventName, **detail: str) -> Plan:
        """Compare-and-set `after` over `before` (raises ConcurrentUpdate if someone else won), then audit."""
        saved = await self.store.save(after, expected_version=before.version)
        await self.record(saved, actor, event, before, **detail)
        return saved

    def check_tenant(self, person: Person) -> None:
        """Refuse people from tenants this bot does not serve (guests from elsewhere, other organisations)."""
        if self.allowed_tenants and person.tenant_id not in self.allowed_tenants:
            raise Refusal(RefusalCode.OTHER_TENANT, "This bot only serves people of its own organisation's tenant.")

    async def is_approver(self, plan: Plan, person: Person, fresh: bool = True) -> bool:
        """Listed in the policy, or a member of its approver group, asked of the directory now (every
        decision: approve, deny, grant, cancel). Refusal(DIRECTORY_UNAVAILABLE) when the group cannot be checked."""
        if plan.policy.names_approver(person.object_id):
            return True
        group = plan.policy.approver_group
        if not group or self.directory is None:
            return False
        try:
            in_group = await self.directory.is_member(person.object_id, group, fresh=fresh)
        except DirectoryUnavailable as e:
            raise Refusal(RefusalCode.DIRECTORY_UNAVAILABLE, e.message) from None
        return plan.policy.names_approver(person.object_id, in_group)

    async def permission(self, plan: Plan, person: Person, group_unknown_is_approver: bool = True) -> Permission:
        """What `person` may do with `plan` now, for views (the card's buttons, `pending`): group answers may come
        from a cache. When the group cannot be checked the card counts the person as an approver, so the click
        (checked fresh) tells them why it cannot be decided; `pending` does not list the plan."""
        try:
            is_approver = await self.is_approver(plan, person, fresh=False)
        except Refusal:
            is_approver = group_unknown_is_approver
        return permission(plan, person.object_id, self.clock.now(), is_approver)

    async def may_see_buttons(self, plan: Plan, person: Person) -> bool:
        """The card shows `person` buttons when the plan waits for them (domain/permissions.py)."""
        return (await self.permission(plan, person)).awaits_you
