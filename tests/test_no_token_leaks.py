"""Whole-suite check: no SSO or access token, nor its signature, nor a callback secret, reached a log, the store, the
audit, a card or a callback event."""

from __future__ import annotations

import json

import pytest

from sandbox import Sandbox

from .conftest import CALLBACK_BODIES, LOG_LINES, SECRETS, STORE_FILES


@pytest.mark.last
def test_no_token_ever_leaks(sandbox_v1: Sandbox, sandbox_v2: Sandbox) -> None:
    boxes = (sandbox_v1, sandbox_v2)  # the v1 sandbox (the file as written) and the one switched to v2 tokens
    tokens = [t for box in boxes for t in [*box.entra.issued, *box.channel.issued]]  # access, SSO and channel tokens
    assert len(tokens) > 10, "the suite should have minted SSO and access tokens before this check"
    needles = {t for t in tokens} | {t.rsplit(".", 1)[1] for t in tokens}
    needles |= {s for secret in SECRETS for s in (secret, secret.removeprefix("whsec_"))}
    places: dict[str, str] = {"logs": "\n".join(LOG_LINES), "callback events": "\n".join(CALLBACK_BODIES)}
    for box in boxes:
        for call in box.connector.calls:  # every activity and card the bot sent or updated
            places[f"connector {box.world.bot.token_version} {call.operation} {call.activity_id}"] = json.dumps(call.body)
    for path in STORE_FILES:  # plans and the audit trail, raw bytes of the SQLite files (WAL included)
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                places[str(part)] = part.read_bytes().decode("latin-1")
    assert len(places) > 10 and len(LOG_LINES) > 10
    leaks = [(where, needle[:12]) for where, text in places.items() for needle in needles if needle in text]
    assert not leaks, f"tokens leaked into: {sorted({w for w, _ in leaks})}"
