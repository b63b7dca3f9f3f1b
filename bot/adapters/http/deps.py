"""What the HTTP APIs depend on, typed: the token validator and the alert inbox, as the adapters provide them."""

from __future__ import annotations

from typing import Any, Protocol


class TokenValidator(Protocol):
    """Entra access tokens (bot/adapters/azure/tokens.py)."""

    async def validate(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """Verified claims, or TokenRejected saying which check failed."""
        ...


class AlertInbox(Protocol):
    """Where alert deliveries are kept until a worker has processed them: the store's inbox table (STORE=sqlite) or
    an Azure Storage Queue (STORE=azure-tables), both adapters of the inbox port (bot/adapters/inbox.py)."""

    async def accept(self, key: str, payload: dict[str, Any], auth: str) -> str:
        """ "new", or for a repeat "pending" (not processed yet) or "done"; raises InboxUnavailable (bot/adapters/
        inbox.py) when the alert could not be kept (its queue unreachable): the sender is asked to retry."""
        ...

    async def alert_state(self, key: str) -> tuple[str, dict[str, Any] | None] | None:
        """("pending" | "done" | "failed", the outcome once done); None if there is none."""
        ...
