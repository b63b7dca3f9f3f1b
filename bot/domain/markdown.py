"""Caller text shown as plain text in Teams: no links, no formatting, no mentions.

Adaptive Card TextBlocks and FactSet values, and Teams messages sent with textFormat=markdown, interpret a
CommonMark subset (bold, italic, lists, links: https://learn.microsoft.com/adaptive-cards/authoring-cards/text-features;
https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-format). CommonMark lets any
ASCII punctuation be backslash-escaped (spec §2.4), so `literal` escapes every character that can open markup,
flattens line breaks and control characters (no new list item or paragraph), and breaks `://` so a bare URL is
not turned into a link by clients that auto-link. Apply it to every string a caller, an alert or a person wrote,
where it is put into a card or a message, and nowhere else (stored text stays as given).
"""

from __future__ import annotations

import re
import unicodedata

_MARKUP = re.compile(r"([\\`*_\[\]<>#|~&])")
_LIST_START = re.compile(r"^(\d+)([.)])|^([-+=])")  # a list item, a thematic break, a setext underline
_ZERO_WIDTH_SPACE = "\u200b"


def literal(text: str) -> str:
    """`text` as it was written, once rendered as markdown: no link, emphasis, list, heading, mention or HTML."""
    # one line, no leading indent: no new paragraph, list item, heading, quote or indented code block
    flat = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text).lstrip()
    escaped = _MARKUP.sub(r"\\\1", flat)
    escaped = _LIST_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped)
    return escaped.replace("://", ":" + _ZERO_WIDTH_SPACE + "//")
