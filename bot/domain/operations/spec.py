"""What a catalog entry is, how a resource's state is read and shown, and an action: an entry applied to a resource.

An entry (OperationSpec) says everything about one write: the resource type and the operation word, its typed
parameters, the ARM request it makes (method, path under the resource id, api-version, body built from the
parameters and, where Azure needs the whole resource written back, from the resource as read), the RBAC action(s)
it needs, its label, Microsoft's documented risk and how it can be undone. A type's StateSpec says which reads show
its current state and how that state reads on a card ("Instance count: 3").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..resources import ResourceRef, ResourceType
from .params import Param, Parameters, ParamValue
from .request import ArmRequest

Facts = tuple[tuple[str, str], ...]  # (label, value) as the card shows them, in order


@dataclass(frozen=True)
class Read:
    """One GET that shows a resource's state: `path` is a template over the resource (`{id}`, `{parent}`)."""

    name: str
    path: str
    api_version: str | None = None  # None: the type's own

    def url_path(self, ref: ResourceRef) -> str:
        return self.path.format(id=ref.id, parent=ref.parent_id or ref.id)

    def version(self, rtype: ResourceType) -> str:
        return self.api_version or rtype.api_version


@dataclass(frozen=True)
class Observation:
    """What the reads of a resource found: each read's JSON body; None where Azure has no such resource."""

    bodies: tuple[tuple[str, Any], ...]

    def body(self, name: str = "resource") -> Any:
        return next((b for n, b in self.bodies if n == name), None)

    @property
    def found(self) -> bool:
        return self.body() is not None


@dataclass(frozen=True)
class StateSpec:
    """How a type's current state is read (the first read, `resource`, is the resource itself) and shown."""

    reads: tuple[Read, ...]
    facts: Callable[[Observation], Facts]
    etag: Callable[[Observation], str | None] | None = None  # where the resource keeps its ETag, if it has one


class Unplannable(Exception):
    """The action cannot be planned as asked (a revision not named, a swap with itself, Azure has no such resource):
    `field` is what is at fault ("resourceId", "parameters.targetSlot"), `message` says why and what to do."""

    def __init__(self, message: str, field: str = "resourceId") -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class PlanContext:
    """What a request is built from: the resource, the parameters and the state read when the plan is made."""

    ref: ResourceRef
    params: Mapping[str, ParamValue]
    observation: Observation | None


Builder = Callable[[PlanContext], tuple[str, Any]]  # -> (path after the resource id, body)
AfterFn = Callable[[Facts, Mapping[str, ParamValue]], Facts]


@dataclass(frozen=True, eq=False)
class OperationSpec:
    """One entry of the operations catalog (see module docstring); equal by `key`."""

    rtype: ResourceType
    word: str  # as in ARM's action name: restart, powerOff, scale
    label: str
    method: str
    suffix: str  # the path after the resource id ("/restart"; "" for the resource itself)
    api_version: str
    rbac: tuple[str, ...]
    reference: str  # the REST reference page of the request
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()  # other words people use ("stop" for powerOff)
    build: Builder | None = None  # a body (or path) from the parameters and the state read
    after: AfterFn | None = None  # the state once done, from the state now and the parameters
    shown: tuple[str, ...] = ()  # the body paths the card shows
    phrase: str = ""  # the parameters in words, formatted with them ("to {capacity} instances")
    risk: str = ""
    undo: str = ""
    if_match: bool = False  # send the read's ETag (If-Match): Azure refuses the write if the resource changed
    needs_state: bool = False  # the request is built from the state read: no read, no plan

    @property
    def key(self) -> str:
        """`<resource type>/<operation>`: how API_CALLERS_FILE and response plans name it."""
        return f"{self.rtype.name}/{self.word}"

    @property
    def value(self) -> str:
        return self.word

    @property
    def rbac_action(self) -> str:
        return self.rbac[0]

    @property
    def words(self) -> tuple[str, ...]:
        return (self.word, *self.aliases)

    def named(self, word: str) -> bool:
        return word.strip().lower() in {w.lower() for w in self.words}

    def describe_params(self, params: Mapping[str, ParamValue]) -> str:
        return self.phrase.format(**params) if self.phrase and params else ""

    def request(self, ctx: PlanContext, etag: str | None = None) -> ArmRequest:
        suffix, body = self.build(ctx) if self.build else (self.suffix, None)
        return ArmRequest.of(self.method, ctx.ref.id + suffix, self.api_version, body, etag if self.if_match else None, self.shown)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OperationSpec) and other.key.lower() == self.key.lower()

    def __hash__(self) -> int:
        return hash(self.key.lower())

    def __repr__(self) -> str:
        return f"OperationSpec({self.key})"


_NO_REQUEST = ArmRequest("", "", "")


@dataclass(frozen=True)
class PlannedAction:
    """An operation of the catalog applied to a resource: the exact request, the parameters, and the state the card
    shows now and after. `PlannedAction(spec, ref)` builds the request of an entry that needs no state (a VM power
    action): plans stored before requests were stored read back this way."""

    operation: OperationSpec
    resource: ResourceRef
    request: ArmRequest = _NO_REQUEST
    parameters: Parameters = ()
    before: Facts = ()
    after: Facts = ()
    notes: tuple[str, ...] = field(default=(), compare=False)  # shown, never sent: what was resolved (a revision)

    def __post_init__(self) -> None:
        if self.request is _NO_REQUEST:
            if self.operation.needs_state:
                raise ValueError(f"{self.operation.key} needs the resource's state to build its request")
            ctx = PlanContext(self.resource, dict(self.parameters), None)
            object.__setattr__(self, "request", self.operation.request(ctx))

    @property
    def params(self) -> dict[str, ParamValue]:
        return dict(self.parameters)

    def describe(self) -> str:
        r, phrase = self.resource, self.operation.describe_params(self.params)
        return f"{self.operation.label} {r.resource_type.noun} {r.display} in {r.resource_group}" + (f" {phrase}" if phrase else "")

    def digest_form(self) -> list[Any]:
        return [
            self.operation.key,
            self.resource.id.lower(),
            self.request.digest_form(),
            list(self.parameters),
            list(self.before),
            list(self.after),
        ]
