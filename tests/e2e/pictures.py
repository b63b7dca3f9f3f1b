"""What each README picture shows, as data, and the record that says which version of it a PNG was drawn from.

A card picture (`card-<state>.png`) shows one card JSON, the snapshot the unit tests keep equal to what the bot
renders (tests/unit/snapshots); a Playground picture shows a conversation, so it is drawn from every card and text
snapshot at once. `make screenshots` writes `docs/images/pictures.sha256` beside the PNGs: per picture, the SHA-256
of what it was drawn from. tests/unit/test_pictures.py recomputes them, so a picture left behind by a change of the
cards or texts fails a test that says to run `make screenshots`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "unit" / "snapshots"
IMAGES = ROOT / "docs" / "images"
RECORD = "pictures.sha256"
WAITING = ("awaiting_consent", "awaiting_credentials")  # shown as the approver sees them: someone must act


def card_pictures(snapshots: Path = SNAPSHOTS) -> dict[str, Path]:
    """Picture name -> the card JSON it shows: one card per state (the approver's view while someone must act, the
    shared view otherwise), and the incident card."""
    chosen = {}
    for path in sorted(snapshots.glob("plan-*-read_only.json")):
        state = path.name[len("plan-") : -len("-read_only.json")]
        if state.startswith(WAITING):
            path = path.with_name(f"plan-{state}-approver.json")
        chosen[f"card-{state.replace('_', '-')}.png"] = path
    chosen["card-incident.png"] = snapshots / "incident-autonomous.json"
    return chosen


def source_hash(picture: str, snapshots: Path = SNAPSHOTS) -> str:
    """SHA-256 of what `picture` shows: its card JSON (canonical form), or for a Playground picture every snapshot."""
    cards = card_pictures(snapshots)
    digest = hashlib.sha256()
    if picture in cards:
        digest.update(json.dumps(json.loads(cards[picture].read_text()), sort_keys=True).encode())
    else:
        for path in sorted(snapshots.iterdir()):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def write_record(images: Path, pictures: list[Path]) -> Path:
    """Record what each of `pictures` was drawn from (kept for pictures drawn earlier and not redrawn now)."""
    record = read_record(images)
    record.update({p.name: source_hash(p.name) for p in pictures})
    path = images / RECORD
    path.write_text("".join(f"{digest}  {name}\n" for name, digest in sorted(record.items())))
    return path


def read_record(images: Path) -> dict[str, str]:
    path = images / RECORD
    if not path.is_file():
        return {}
    return {name: digest for digest, name in (line.split("  ", 1) for line in path.read_text().splitlines() if line.strip())}
