"""`make screenshots`: PNGs of the plan card in every state (official renderer) and of a Playground conversation.

Usage: python -m tests.e2e.screenshots docs/images
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from playwright.async_api import async_playwright

from .browser import launch, render, renderer_page

SNAPSHOTS = Path(__file__).resolve().parents[1] / "unit" / "snapshots"
WAITING = ("awaiting_consent", "awaiting_credentials")


def _cards() -> list[tuple[str, Path]]:
    """One card per state: the approver's view while someone must act, the shared view otherwise."""
    chosen = []
    for path in sorted(SNAPSHOTS.glob("plan-*-read_only.json")):
        state = path.name[len("plan-") : -len("-read_only.json")]
        if state.startswith(WAITING):
            path = path.with_name(f"plan-{state}-approver.json")
        chosen.append((state, path))
    return chosen


async def cards(out: Path) -> list[Path]:
    written = []
    async with async_playwright() as p:
        browser = await launch(p)
        page = await renderer_page(browser)
        for state, path in _cards():
            events = await render(page, json.loads(path.read_text()))
            if events:
                raise SystemExit(f"{path.name}: the renderer reported {events}")
            target = out / f"card-{state.replace('_', '-')}.png"
            await page.locator("#card").screenshot(path=str(target))
            written.append(target)
        await render(page, json.loads((SNAPSHOTS / "incident-autonomous.json").read_text()))
        target = out / "card-incident.png"
        await page.locator("#card").screenshot(path=str(target))
        written.append(target)
        await browser.close()
    return written


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(cards(out)):
        print(f"wrote {path}")
    # the Playground conversation: the e2e tests take their pictures when SCREENSHOTS_DIR is set
    env = {**os.environ, "SCREENSHOTS_DIR": str(out.resolve())}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/e2e/test_playground.py"], env=env)
    if result.returncode:
        raise SystemExit("the Playground run failed; its pictures may be missing")
    for path in sorted(out.glob("playground-*.png")):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
