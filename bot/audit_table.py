"""`sre-consent-bot audit` as an aligned table: times with their zone, cells that never spill into the next column."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from datetime import UTC

from .domain.audit import AuditEvent

HEADERS = ("TIME", "PLAN", "ACTOR", "EVENT", "STATE", "DETAIL")
# the time ("2026-11-25 09:08:07 UTC"), a plan id, a name, an event, the longest move between states
WIDTHS = (23, 14, 24, 21, 41)
MIN_DETAIL = 30


def _fit(text: str, width: int) -> str:
    """`text` padded to `width`, or cut with an ellipsis so it never pushes the next column."""
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def table(events: Sequence[AuditEvent], columns: int | None = None) -> list[str]:
    """One line per event (details wrapped under the DETAIL column); times in UTC, named."""
    columns = columns or shutil.get_terminal_size((160, 24)).columns
    detail_width = max(MIN_DETAIL, columns - sum(WIDTHS) - 2 * len(WIDTHS))
    indent = " " * (sum(WIDTHS) + 2 * len(WIDTHS))
    lines = ["  ".join(_fit(h, w) for h, w in zip(HEADERS, WIDTHS, strict=False)) + "  " + HEADERS[-1]]
    for e in events:
        move = f"{e.from_state} -> {e.to_state}" if e.from_state else ""
        cells = (f"{e.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC", e.plan_id or "-", e.actor_name, e.event, move)
        detail = "; ".join(f"{k}={v}" for k, v in e.detail.items())
        wrapped = textwrap.wrap(detail, detail_width) or [""]
        lines.append(("  ".join(_fit(c, w) for c, w in zip(cells, WIDTHS, strict=True)) + "  " + wrapped[0]).rstrip())
        lines.extend(indent + more for more in wrapped[1:])
    return lines
