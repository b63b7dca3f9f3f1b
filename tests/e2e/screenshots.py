"""`make screenshots`: PNGs of the plan card in every state (official renderer) and of a Playground conversation, and
the record of what each was drawn from (tests/e2e/pictures.py).

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
from .pictures import card_pictures, write_record


def _cards() -> list[tuple[str, Path]]:
    return list(card_pictures().items())


async def cards(out: Path) -> list[Path]:
    written = []
    async with async_playwright() as p:
        browser = await launch(p)
        page = await renderer_page(browser)
        for name, path in _cards():
            events = await render(page, json.loads(path.read_text()))
            if events:
                raise SystemExit(f"{path.name}: the renderer reported {events}")
            target = out / name
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
    # what each picture was drawn from, so a picture a later change leaves behind fails tests/unit/test_pictures.py
    print(f"wrote {write_record(out, [*sorted(out.glob('card-*.png')), *sorted(out.glob('playground-*.png'))])}")


if __name__ == "__main__":
    main()
