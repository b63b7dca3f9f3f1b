"""What the HTTP APIs depend on, typed: the token validator and the alert inbox, as the adapters provide them."""

from __future__ import annotations

from typing import Any, Protocol


class TokenValidator(Protocol):
    """Entra access tokens (bot/adapters/azure/tokens.py)."""

    async def validate(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """Verified claims, or TokenRejected saying which check failed."""
        ...


class AlertInbox(Protocol):
    """Where alert deliveries are kept until the inbox worker has processed them (the store)."""

    async def accept_alert(self, key: str, payload: dict[str, Any], auth: str) -> str:
        """ "new", or for a repeat "pending" (not processed yet) or "done"."""
        ...

    async def alert_state(self, key: str) -> tuple[str, dict[str, Any] | None] | None:
        """("pending" | "done" | "failed", the outcome once done); None if there is none."""
        ...
