"""The conversation's one router; the handlers in on_commands.py and on_clicks.py register on it by decorator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .router import Router

if TYPE_CHECKING:
    from .core import Conversation

ROUTER: Router[Conversation] = Router()
