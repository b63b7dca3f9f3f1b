"""The fuzz properties' own rule for what may change on a stored plan between two snapshots: only its expiry, once due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from .guard import StoredRow, _expired_when_due


def _row(state: str, version: int, expires_at: datetime) -> StoredRow:
    return (state, version, json.dumps({"expires_at": expires_at.isoformat()}))


def test_a_waiting_plan_may_expire_once_its_own_expiry_has_passed() -> None:
    due = datetime.now(UTC) - timedelta(seconds=1)
    assert _expired_when_due(_row("awaiting_consent", 2, due), _row("expired", 3, due))


def test_a_plan_expired_before_its_expiry_is_a_change_the_fuzzer_reports() -> None:
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert not _expired_when_due(_row("awaiting_consent", 2, later), _row("expired", 3, later))


def test_any_other_change_is_reported() -> None:
    due = datetime.now(UTC) - timedelta(seconds=1)
    assert not _expired_when_due(_row("awaiting_consent", 2, due), _row("approved", 3, due))
    assert not _expired_when_due(_row("approved", 2, due), _row("expired", 3, due))
    assert not _expired_when_due(_row("awaiting_consent", 2, due), _row("expired", 5, due))
