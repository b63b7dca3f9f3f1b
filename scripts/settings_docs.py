"""Rewrite the README's settings table and .env.example from bot.config.SETTINGS (run after adding a setting)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    rows = ["| Setting | Meaning | Default |", "|---|---|---|"]
    for s in SETTINGS:
        default = "required" if s.default is None else (f"`{s.default}`" if s.default else "empty")
        rows.append(f"| `{s.name}` | {s.help.replace('|', '/')} | {default} |")
    readme = ROOT / "README.md"
    readme.write_text(re.sub(r"\| Setting \| Meaning \| Default \|\n(\|.*\|\n)+", "\n".join(rows) + "\n", readme.read_text()))
    lines = [
        "# Settings of sre-consent-bot. Copy to .env and fill in; the real environment wins over .env.",
        "# `make run` needs none of these: the sandbox supplies them.",
        "",
    ]
    for s in SETTINGS:
        lines += [f"# {s.help}" + ("" if s.default is None else f" (default: {s.default or 'empty'})"), f"{s.name}=", ""]
    (ROOT / ".env.example").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
