"""Container.idle(): the bot is idle only if nothing it was going to do after its last answer is left.

Work flows one way: an alert in the inbox is processed (its commit may start a background task: an autonomous
plan's execution), a background task writes messages to the outbox, the outbox sends them. Looking in that order
(inbox, then tasks, then outbox) cannot miss work that moves downstream while it looks."""

from __future__ import annotations

from types import SimpleNamespace

from bot.bootstrap import Container


class Tasks:
    pending = 0


class Inbox:
    def __init__(self, tasks: Tasks) -> None:
        self.tasks = tasks

    async def idle(self) -> bool:
        self.tasks.pending = 1  # the alert's processing committed and started its plan's execution
        return True


class Outbox:
    def __init__(self, tasks: Tasks) -> None:
        self.tasks, self.depth = tasks, 0

    async def idle(self) -> bool:
        empty = self.depth == 0
        if self.tasks.pending:  # meanwhile the execution ends, writing its result message
            self.tasks.pending, self.depth = 0, 1
        return empty


async def test_an_execution_started_by_an_alert_and_ending_while_the_outbox_is_looked_at_is_not_missed() -> None:
    tasks = Tasks()
    outbox = Outbox(tasks)
    parts = SimpleNamespace(tasks=tasks, inbox=Inbox(tasks), outbox=outbox)
    idle = await Container.idle(parts)  # type: ignore[arg-type]
    assert not idle or outbox.depth == 0, "idle() said idle with the execution's result message still to send"


async def test_idle_when_nothing_is_left() -> None:
    async def yes() -> bool:
        return True

    parts = SimpleNamespace(tasks=Tasks(), inbox=SimpleNamespace(idle=yes), outbox=SimpleNamespace(idle=yes))
    assert await Container.idle(parts)  # type: ignore[arg-type]
