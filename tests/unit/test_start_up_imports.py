"""Start-up imports only what the first turn needs (docs/benchmarks.md, start-up): the SDKs below are imported with
their first use (the first card, the first Azure token, STORE=azure-tables, the first request to /mcp). A module that
imports one of them at its top brings its import time back to every start; this test names it."""

from __future__ import annotations

import subprocess
import sys

import pytest

LATER = ("microsoft_teams.cards", "azure.identity", "azure.data.tables", "azure.storage.queue", "mcp")


@pytest.mark.parametrize("sdk", ["teams", "agents"])
def test_the_serve_path_imports_none_of_what_the_first_turn_does_not_need(sdk: str) -> None:
    code = (
        f"import sys, bot.__main__, bot.launch, bot.bootstrap, bot.app, bot.adapters.{sdk}.sdk\n"
        f"print(' '.join(m for m in {LATER!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], f"imported at start-up: {loaded}; import them where they are first used"
