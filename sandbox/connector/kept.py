"""What Teams keeps between two runs of `make run`: the conversations' messages, every version of each card, and who
has the app installed. Teams stores a conversation's messages on its side, so a bot that restarts (after a crash, a
kill -9) finds its threads where it left them and can update the cards it posted
(https://learn.microsoft.com/microsoftteams/platform/bots/how-to/update-and-delete-bot-messages: a bot updates a
message by the id Teams gave it, at any later time). The simulator writes this file after every change when the
sandbox keeps state (`sre-consent-bot sandbox`); the test sandboxes keep nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .core import ConnectorCore
from .records import PostedActivity


def save(core: ConnectorCore, path: Path) -> None:
    """Write the Connector's conversations to `path`, atomically: a kill -9 leaves the previous file or this one."""
    state = {
        "nextId": core._next_id,
        "installed": core.installed,
        "activities": [
            {
                "id": a.id,
                "conversationId": a.conversation_id,
                "replyToId": a.reply_to_id,
                "deleted": a.deleted,
                "activity": a.activity,
                "versions": a.versions,
            }
            for a in core.activities.values()
        ],
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, path)


def load(core: ConnectorCore, path: Path) -> bool:
    """Take back what `save` wrote; False (and nothing changed) when there is no file or it cannot be read."""
    try:
        state: dict[str, Any] = json.loads(path.read_text())
        activities = [
            PostedActivity(a["id"], a["conversationId"], a["activity"], a.get("replyToId"), bool(a.get("deleted")), list(a["versions"]))
            for a in state["activities"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    core.activities = {a.id: a for a in activities}
    core.installed = dict(state.get("installed") or {})
    core._next_id = max(int(state.get("nextId") or 0), core._next_id)
    return True
