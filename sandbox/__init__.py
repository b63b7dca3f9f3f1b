"""Loopback simulators of Microsoft Entra ID, Azure Resource Manager and the Bot Connector.

They speak the real wire protocols (each module cites the Microsoft page it follows) over HTTPS with a
throwaway CA, and are driven by the real SDK clients. `make run` and the tests share them.

Importing this package imports nothing heavy: aiohttp builds its default SSL context when it is
first imported, so a process that creates the sandbox CA must export it before that happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import Sandbox
    from .world import World, demo_world

__all__ = ["Sandbox", "World", "demo_world"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from .runner import Sandbox

        return Sandbox
    if name in ("World", "demo_world"):
        from . import world

        return getattr(world, name)
    raise AttributeError(name)
