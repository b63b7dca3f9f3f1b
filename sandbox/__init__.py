"""Loopback simulators of Microsoft Entra ID, Azure Resource Manager and the Bot Connector.

They speak the real wire protocols (see ../shared/reference/protocols.md) over HTTPS with a
throwaway CA, and are driven by the real SDK clients. `make run` and the tests share them.
"""

from .runner import Sandbox
from .world import World, demo_world

__all__ = ["Sandbox", "World", "demo_world"]
