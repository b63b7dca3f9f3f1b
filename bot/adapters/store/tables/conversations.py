"""People's 1:1 chats with the bot (ConversationRefs), in the conversations table: a partition per tenant, a row per
person."""

from __future__ import annotations

import json
from dataclasses import asdict

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from ....ports import ConversationRef
from .base import TableBase
from .entities import SIMPLE_ID, digest
from .transport import on_its_loop


def ref_keys(tenant_id: str, object_id: str) -> tuple[str, str]:
    def key(value: str) -> str:  # object ids and tenant ids are GUIDs; anything else is hashed into a valid key
        return value if SIMPLE_ID.match(value) else digest(value)

    return key(tenant_id), key(object_id)


class ConversationRows(TableBase):
    @on_its_loop
    async def remember(self, ref: ConversationRef) -> None:
        await self._ready()
        pk, rk = ref_keys(ref.tenant_id, ref.object_id)
        await self._conversations.upsert_entity({"PartitionKey": pk, "RowKey": rk, "Ref": json.dumps(asdict(ref))}, mode=UpdateMode.REPLACE)

    @on_its_loop
    async def forget(self, tenant_id: str, object_id: str) -> None:
        await self._ready()
        await self._conversations.delete_entity(*ref_keys(tenant_id, object_id))  # absent: nothing to do

    @on_its_loop
    async def personal_chat(self, tenant_id: str, object_id: str) -> ConversationRef | None:
        await self._ready()
        try:
            e = await self._conversations.get_entity(*ref_keys(tenant_id, object_id))
        except ResourceNotFoundError:
            return None
        return ConversationRef(**json.loads(e["Ref"]))
