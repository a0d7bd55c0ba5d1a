"""Chunking: markdown/plain text -> chunks of about `target_chars` with about `overlap_chars` overlap.

Headings are hard boundaries: a chunk never spans two sections (a note is split by heading), except
that a section too short to stand alone (a title with a line under it) is joined to the next one.
Inside a section, whole sentences are packed up to the target; the next chunk starts with the last
sentences of the previous one, up to the overlap. A sentence longer than the target is cut at word
boundaries. Each chunk keeps its character span in the source text, so `text[start:end]` is the
chunk's content exactly.

Why not a library splitter: LangChain's RecursiveCharacterTextSplitter and friends would pull a large
dependency tree for about 100 lines, and they do not report character spans of overlapping chunks
reliably; spans are what the search results and the "more like this" function show.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Bump when the algorithm below changes what it emits for the same input: the version is part of
# an embedding set's identity, so a new value builds a new set.
ALGORITHM_REVISION = 1

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
# A sentence ends at . ! or ? followed by whitespace, or at a blank line (paragraph end).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_MIN_SECTION_CHARS = 160


@dataclass(frozen=True)
class ChunkerSettings:
    target_chars: int = 1000
    overlap_chars: int = 200

    def __post_init__(self):
        if self.target_chars < 100:
            raise ValueError("chunk size (target_chars) must be at least 100 characters")
        if not 0 <= self.overlap_chars < self.target_chars // 2:
            raise ValueError("overlap_chars must be >= 0 and less than half of target_chars")

    @property
    def version(self) -> str:
        return f"sentences-r{ALGORITHM_REVISION}-{self.target_chars}-{self.overlap_chars}"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    heading: str | None


def _sections(text: str) -> list[Span]:
    """(start, end, heading path) of each heading section; text before the first heading has none."""
    marks = list(_HEADING.finditer(text))
    sections: list[Span] = []
    path: list[tuple[int, str]] = []
    if not marks or marks[0].start() > 0:
        sections.append(Span(0, marks[0].start() if marks else len(text), None))
    for i, mark in enumerate(marks):
        level, title = len(mark.group(1)), mark.group(2).strip()
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        sections.append(Span(mark.start(), end, " › ".join(t for _, t in path)))
    # Join sections too short to stand alone (a title and one line) to the next one.
    merged: list[Span] = []
    pending: Span | None = None
    for section in sections:
        if not text[section.start:section.end].strip():
            continue
        if pending is not None:
            section = Span(pending.start, section.end, section.heading or pending.heading)
            pending = None
        if len(text[section.start:section.end].strip()) < _MIN_SECTION_CHARS:
            pending = section
            continue
        merged.append(section)
    if pending is not None:
        if merged:
            last = merged.pop()
            merged.append(Span(last.start, pending.end, last.heading))
        else:
            merged.append(pending)
    return merged


def _sentences(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Spans of the sentences in text[start:end], stripped; any longer than `limit` cut at spaces."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        while b - a > limit:
            cut = text.rfind(" ", a, a + limit)
            cut = cut if cut > a else a + limit
            out.append((a, cut))
            a = cut
            while a < b and text[a].isspace():
                a += 1
        if b > a:
            out.append((a, b))
    return out


def chunk_spans(text: str, settings: ChunkerSettings = ChunkerSettings()) -> list[Span]:
    out: list[Span] = []
    for section in _sections(text):
        sentences = _sentences(text, section.start, section.end, settings.target_chars)
        i = 0
        while i < len(sentences):
            j = i
            while j + 1 < len(sentences) and sentences[j + 1][1] - sentences[i][0] <= settings.target_chars:
                j += 1
            out.append(Span(sentences[i][0], sentences[j][1], section.heading))
            if j + 1 >= len(sentences):
                break
            # Overlap: step back over the last sentences of this chunk while they fit in the overlap.
            k = j + 1
            while k - 1 > i and sentences[j][1] - sentences[k - 1][0] <= settings.overlap_chars:
                k -= 1
            i = k
    return out


@dataclass(frozen=True)
class Chunk:
    source_kind: str  # material | note | reference
    source_id: str
    ordinal: int
    heading: str | None
    char_start: int
    char_end: int
    content: str
    content_hash: str
    chunk_id: str


def chunk_document(source_kind: str, source_id: str, text: str, settings: ChunkerSettings,
                   title: str | None = None) -> list[Chunk]:
    """The chunks of one document. The content hash covers exactly what is embedded (the document's
    title, the heading and the chunk's text) and the chunker version, so a chunk is re-embedded when,
    and only when, any of these changes."""
    chunks = []
    for ordinal, span in enumerate(chunk_spans(text or "", settings)):
        content = text[span.start:span.end]
        digest = hashlib.sha256(
            "\x1f".join([settings.version, title or "", span.heading or "", content]).encode("utf-8")
        ).hexdigest()
        chunk_id = hashlib.sha256(f"{source_kind}\x1f{source_id}\x1f{ordinal}\x1f{digest}".encode()).hexdigest()[:32]
        chunks.append(Chunk(source_kind, source_id, ordinal, span.heading, span.start, span.end, content, digest, chunk_id))
    return chunks


def embedding_text(title: str | None, heading: str | None, content: str) -> str:
    """What the model sees: the document title and section heading give a chunk its context."""
    head = " — ".join(part for part in (title, heading) if part and part not in content[:200])
    return f"{head}\n{content}" if head else content
