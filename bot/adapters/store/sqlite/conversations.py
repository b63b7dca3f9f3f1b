"""People's 1:1 chats with the bot (ConversationRefs), in the conversation_refs table."""

from __future__ import annotations

import json
from dataclasses import asdict

from ....ports import ConversationRef
from .base import SqliteBase


class ConversationRows(SqliteBase):
    async def remember(self, ref: ConversationRef) -> None:
        await self._count(
            "INSERT OR REPLACE INTO conversation_refs (tenant_id, object_id, data) VALUES (?, ?, ?)",
            (ref.tenant_id, ref.object_id, json.dumps(asdict(ref))),
        )

    async def forget(self, tenant_id: str, object_id: str) -> None:
        await self._count("DELETE FROM conversation_refs WHERE tenant_id = ? AND object_id = ?", (tenant_id, object_id))

    async def personal_chat(self, tenant_id: str, object_id: str) -> ConversationRef | None:
        rows = await self._run("SELECT data FROM conversation_refs WHERE tenant_id = ? AND object_id = ?", (tenant_id, object_id))
        return ConversationRef(**json.loads(rows[0][0])) if rows else None
