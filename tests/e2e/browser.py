"""Headless Debian chromium driven by Python playwright (never a downloaded browser), and the card renderer page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
RENDERER = ROOT / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
# The closed network refuses Chromium's background connections; these flags keep it quiet and fast.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


async def launch(p: Playwright) -> Browser:
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium is not installed: `make test` installs it (apt-get install chromium)")
    return await p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)


HOST_CONFIG = {
    "fontFamily": "'Segoe UI', 'Noto Sans', 'DejaVu Sans', sans-serif, 'Noto Color Emoji'",
    "supportsInteractivity": True,
    "actions": {"actionsOrientation": "horizontal", "actionAlignment": "left", "buttonSpacing": 8, "maxActions": 5},
    "containerStyles": {
        "default": {
            "backgroundColor": "#FFFFFF",
            "foregroundColors": {
                "default": {"default": "#242424", "subtle": "#616161"},
                "accent": {"default": "#4F52B2", "subtle": "#4F52B2"},
                "good": {"default": "#237B4B", "subtle": "#237B4B"},
                "warning": {"default": "#835B00", "subtle": "#835B00"},
                "attention": {"default": "#C4314B", "subtle": "#C4314B"},
            },
        },
        "emphasis": {
            "backgroundColor": "#F5F5F5",
            "foregroundColors": {
                "default": {"default": "#242424", "subtle": "#616161"},
                "accent": {"default": "#4F52B2", "subtle": "#4F52B2"},
                "good": {"default": "#237B4B", "subtle": "#237B4B"},
                "warning": {"default": "#835B00", "subtle": "#835B00"},
                "attention": {"default": "#C4314B", "subtle": "#C4314B"},
            },
        },
    },
}

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; padding: 16px; background: #EBEBEB; font-family: 'Segoe UI', 'Noto Sans', sans-serif; }
#card { width: 520px; background: #FFFFFF; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.2); overflow: hidden; }
.ac-pushButton { padding: 6px 14px; border-radius: 4px; border: 1px solid #D1D1D1; background: #FFF; font: inherit; cursor: pointer; }
.ac-pushButton.style-positive { background: #5B5FC7; color: #FFF; border-color: #5B5FC7; }
.ac-pushButton.style-destructive { color: #C4314B; }
.ac-input { font: inherit; padding: 4px 6px; border: 1px solid #D1D1D1; border-radius: 4px; }
</style></head><body><div id="card"></div></body></html>"""

# Teams renders the Adaptive Card markdown subset itself; the generic renderer needs a processor for it.
MARKDOWN = """() => {
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    const esc = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    result.outputHtml = esc.replace(/\\*\\*(.+?)\\*\\*/g, "<strong>$1</strong>");
    result.didProcess = true;
  };
}"""

RENDER = """([card, hostConfig]) => {
  const ac = new AdaptiveCards.AdaptiveCard();
  ac.hostConfig = new AdaptiveCards.HostConfig(hostConfig);
  const ctx = new AdaptiveCards.SerializationContext();
  ac.parse(card, ctx);
  const events = [];
  for (let i = 0; i < ctx.eventCount; i++) { events.push(ctx.getEventAt(i).message); }
  for (const e of ac.validateProperties().validationEvents) { events.push(e.message); }
  window.__executed = [];
  ac.onExecuteAction = (action) => {
    window.__executed.push({ type: action.getJsonTypeName(), verb: action.verb, data: action.data });
  };
  const host = document.getElementById("card");
  host.innerHTML = "";
  const el = ac.render();
  if (el) { host.appendChild(el); }
  return events;
}"""


async def renderer_page(browser: Browser) -> Page:
    """A blank page with the official Adaptive Cards JS renderer loaded."""
    if not RENDERER.is_file():
        raise RuntimeError("adaptivecards is not installed: `make test` runs npm ci")
    page = await browser.new_page(viewport={"width": 560, "height": 900})
    await page.set_content(PAGE)
    await page.add_script_tag(path=str(RENDERER))
    await page.evaluate(MARKDOWN)
    return page


async def render(page: Page, card: dict[str, Any]) -> list[str]:
    """Render `card`; returns the renderer's parse and validation events (empty = clean)."""
    events: list[str] = await page.evaluate(RENDER, [json.loads(json.dumps(card)), HOST_CONFIG])
    return events


async def click_all(page: Page, fill: str = "checked by the renderer test") -> list[dict[str, Any]]:
    """Type `fill` into every text input, click every button; returns what each Action.Execute handed to the host."""
    inputs = page.locator("#card input.ac-textInput, #card textarea.ac-textInput")
    for i in range(await inputs.count()):
        await inputs.nth(i).fill(fill)
    buttons = page.locator("#card .ac-pushButton")
    for i in range(await buttons.count()):
        await buttons.nth(i).click()
    executed: list[dict[str, Any]] = await page.evaluate("() => window.__executed")
    return executed
