"""Structured JSON logs on stderr; a plan id travels as `plan_id` when a record carries one."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("plan_id", "event", "detail", "status", "path", "trace_id"):
            if getattr(record, key, None) is not None:
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_sdks()


SDK_LOGGERS = ("azure", "msal", "urllib3", "aiohttp.access", "msrest", "botbuilder", "botframework", "microsoft_agents", "mcp")


def quiet_sdks() -> None:
    """The SDKs log every HTTP request at INFO/DEBUG; only their warnings reach our logs."""
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
