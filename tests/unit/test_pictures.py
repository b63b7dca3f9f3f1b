"""The README's pictures show the cards and texts the bot has now: each PNG in docs/images was drawn from what
tests/e2e/pictures.py says it shows, and docs/images/pictures.sha256 records the hash of that when it was drawn."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.pictures import IMAGES, RECORD, SNAPSHOTS, read_record, source_hash

REDRAW = "run `make screenshots` (redraws every picture in docs/images and its record), then commit docs/images"


def test_every_picture_matches_the_card_or_texts_it_shows() -> None:
    record = read_record(IMAGES)
    pictures = sorted(p.name for p in IMAGES.glob("*.png"))
    unrecorded = [name for name in pictures if name not in record]
    stale = [name for name in pictures if name in record and record[name] != source_hash(name)]
    assert not unrecorded, f"docs/images/{RECORD} does not say what {', '.join(unrecorded)} show: {REDRAW}"
    assert not stale, f"these pictures show cards or texts the bot no longer has: {', '.join(stale)}: {REDRAW}"


def test_a_changed_card_makes_its_picture_stale(tmp_path: Path) -> None:
    shutil.copytree(SNAPSHOTS, tmp_path / "snapshots")
    snapshots = tmp_path / "snapshots"
    names = ["card-succeeded.png", "card-denied.png", "playground-approved.png"]
    before = {name: source_hash(name, snapshots) for name in names}
    card = snapshots / "plan-succeeded-read_only.json"
    card.write_text(card.read_text().replace("Succeeded", "Done"))  # a card text changes
    after = {name: source_hash(name, snapshots) for name in names}
    assert after["card-succeeded.png"] != before["card-succeeded.png"]  # its picture is stale
    assert after["playground-approved.png"] != before["playground-approved.png"]  # so is the conversation's
    assert after["card-denied.png"] == before["card-denied.png"]  # the others are not
