"""One router: card-click verbs and message commands to their handlers, registered by decorator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from ...domain.plan import Person
from .answers import Answer
from .clicks import CardClick, Verb
from .turn import Turn

Ctx = TypeVar("Ctx")
C = TypeVar("C")
VerbHandler = Callable[[Ctx, Turn, Person, CardClick], Awaitable[Answer]]
CommandHandler = Callable[[Ctx, Turn, Person, C], Awaitable[None]]


class Router(Generic[Ctx]):
    """Handlers receive the context (`Ctx`: the conversation's services), the turn, the checked person and
    the typed click or command. A verb or command type is registered once."""

    def __init__(self) -> None:
        self._verbs: dict[Verb, VerbHandler[Ctx]] = {}
        self._commands: dict[type, CommandHandler[Ctx, Any]] = {}

    def verb(self, verb: Verb) -> Callable[[VerbHandler[Ctx]], VerbHandler[Ctx]]:
        def register(handler: VerbHandler[Ctx]) -> VerbHandler[Ctx]:
            if verb in self._verbs:
                raise ValueError(f"verb {verb.value!r} is already routed")
            self._verbs[verb] = handler
            return handler

        return register

    def command(self, kind: type[C]) -> Callable[[CommandHandler[Ctx, C]], CommandHandler[Ctx, C]]:
        def register(handler: CommandHandler[Ctx, C]) -> CommandHandler[Ctx, C]:
            if kind in self._commands:
                raise ValueError(f"command {kind.__name__} is already routed")
            self._commands[kind] = handler
            return handler

        return register

    @property
    def verbs(self) -> frozenset[str]:
        """The verbs a click may carry (their wire values)."""
        return frozenset(v.value for v in self._verbs)

    @property
    def command_types(self) -> frozenset[type]:
        return frozenset(self._commands)

    async def click(self, ctx: Ctx, turn: Turn, person: Person, click: CardClick) -> Answer:
        return await self._verbs[click.verb](ctx, turn, person, click)

    async def run_command(self, ctx: Ctx, turn: Turn, person: Person, command: object) -> None:
        await self._commands[type(command)](ctx, turn, person, command)
