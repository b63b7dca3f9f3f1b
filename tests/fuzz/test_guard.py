"""The fuzz properties' own rule for what may change on a stored plan between two snapshots: only its expiry, once due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from .guard import StoredRow, _expired_when_due, _followed_up


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


def _plan(state: str, version: int, **data: object) -> StoredRow:
    return (state, version, json.dumps({"id": "p-1", "state": state, "version": version, "title": "t", **data}))


def test_a_waiting_plan_may_be_reminded_escalated_or_warned_and_nothing_else() -> None:
    """Reminders and the near-expiry warning are transitions time alone makes (bot/domain/nudges.py)."""
    before = _plan("awaiting_consent", 2, follow_up={"reminded_at": None})
    assert _followed_up(before, _plan("awaiting_consent", 3, follow_up={"reminded_at": "2026-01-01T00:00:00+00:00"}))
    assert not _followed_up(before, _plan("awaiting_consent", 3, follow_up={}, title="changed"))
    assert not _followed_up(before, _plan("approved", 3, follow_up={}))
    assert not _followed_up(_plan("succeeded", 2, follow_up={}), _plan("succeeded", 3, follow_up={"warned_at": "x"}))
