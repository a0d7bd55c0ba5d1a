"""Reference abstracts as plain text, from the three places they come in.

- Zotero: `abstractNote` of an item's data object (plain text already).
- OpenAlex: `abstract_inverted_index` ({word: [positions]}), which OpenAlex publishes instead of the
  text for licensing reasons; the text is the words put back at their positions.
- Crossref: `message.abstract`, JATS XML (`<jats:p>`, `<jats:title>Abstract</jats:title>`, ...):
  tags removed, entities decoded, whitespace collapsed.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
# Crossref abstracts often open with a JATS title that only says "Abstract".
_LEADING_LABEL = re.compile(r"^(abstract|summary)\s*[:.]?\s+", re.IGNORECASE)


def openalex_abstract(inverted_index: Any) -> str | None:
    if not isinstance(inverted_index, dict) or not inverted_index:
        return None
    positions: dict[int, str] = {}
    for word, places in inverted_index.items():
        if not isinstance(places, list):
            continue
        for place in places:
            if isinstance(place, int) and place >= 0:
                positions[place] = str(word)
    if not positions:
        return None
    text = " ".join(positions[i] for i in sorted(positions))
    return text.strip() or None


def strip_jats(markup: Any) -> str | None:
    if not isinstance(markup, str) or not markup.strip():
        return None
    # Paragraph and title ends become spaces, so words of two paragraphs do not run together.
    text = re.sub(r"</(jats:)?(p|title|sec|list-item)>", " ", markup)
    text = html.unescape(_TAG.sub("", text))
    text = _SPACE.sub(" ", text).strip()
    text = _LEADING_LABEL.sub("", text)
    return text or None


def citation_abstract(provider: str | None, record: Any) -> str | None:
    """The abstract in a raw.citation_cache `_record`, by the provider that answered."""
    if not isinstance(record, dict):
        return None
    if provider == "openalex":
        return openalex_abstract(record.get("abstract_inverted_index"))
    if provider == "crossref":
        message = record.get("message")
        return strip_jats(message.get("abstract")) if isinstance(message, dict) else None
    return None


def zotero_abstract(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    value = record.get("abstractNote")
    if isinstance(value, str) and value.strip():
        return _SPACE.sub(" ", value).strip()
    return None
