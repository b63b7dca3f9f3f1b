"""The SQLite schema: one table per thing the store holds; the audit log is append-only (triggers refuse changes)."""

from ....domain.plan import WAITING_STATES

_WAITING = ", ".join(f"'{s.value}'" for s in WAITING_STATES)

# run at every open: the waiting plans of a store written before `waiting_for` existed (or by any writer) are indexed
INDEX_WAITING = f"""
INSERT OR IGNORE INTO waiting_for (object_id, plan_id)
SELECT j.value, p.id FROM plans AS p, json_each(p.data, '$.policy.approvers') AS j WHERE p.state IN ({_WAITING});
INSERT OR IGNORE INTO waiting_for (object_id, plan_id)
SELECT '*', id FROM plans WHERE state IN ({_WAITING}) AND json_extract(data, '$.policy.approver_group') IS NOT NULL;
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_state ON plans(state);
-- who a waiting plan may be waiting for (its listed approvers; '*' for an approver group, which only the directory
-- knows), kept by the units of work while the plan waits: `pending` reads these plans only
CREATE TABLE IF NOT EXISTS waiting_for (
    object_id TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    PRIMARY KEY (object_id, plan_id)
);
CREATE INDEX IF NOT EXISTS waiting_for_plan ON waiting_for(plan_id);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    plan_id TEXT,
    actor TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    event TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_plan ON audit(plan_id);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    plan_id TEXT,
    plan_version INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox(state, key, seq);
CREATE INDEX IF NOT EXISTS outbox_plan ON outbox(plan_id, kind);
CREATE TABLE IF NOT EXISTS threads (
    ref TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    auth TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    outcome TEXT,
    received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS inbox_queue ON inbox(state, not_before);
CREATE TABLE IF NOT EXISTS leases (
    plan_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (
    owner TEXT PRIMARY KEY,
    until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS conversation_refs (
    tenant_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
);
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_u BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_d BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
