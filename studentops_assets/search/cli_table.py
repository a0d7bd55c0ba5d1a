"""The table `studentops search` prints (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .query import SearchResult

SNIPPET_CHARS = 180


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"


def print_results(text: str, result: SearchResult, k: int, console: Console | None = None) -> None:
    console = console or Console(width=160)
    s = result.embedding_set
    title = f"{len(result.hits)} of k={k} for {text!r} — {result.mode} search, {s.label}"
    table = Table(title=title, show_lines=True, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("kind")
    table.add_column("source", max_width=38)
    table.add_column("course")
    table.add_column("location", max_width=30)
    table.add_column("text", max_width=70)
    for rank, hit in enumerate(result.hits, start=1):
        score = f"{hit.score:.3f}" if result.mode == "vector" else f"{hit.score * 1000:.1f}"
        why = []
        if hit.vector_rank:
            why.append(f"v{hit.vector_rank}")
        if hit.text_rank:
            why.append(f"t{hit.text_rank}")
        if result.mode == "hybrid" and why:
            score += "\n" + " ".join(why)
        location = f"{hit.heading or '(top)'}\nchars {hit.char_start}–{hit.char_end}"
        table.add_row(str(rank), score, hit.source_kind, hit.source_title or hit.source_id, hit.course_code or "",
                      location, _snippet(hit.content))
    console.print(table)
    notes = list(result.notes)
    if result.strategy == "exact":
        notes.append("the filter was too selective for the HNSW index scan: answered by exact search")
    if result.mode == "hybrid":
        notes.append("score: reciprocal rank fusion x1000 (vN = vector rank, tN = full-text rank)")
    else:
        notes.append("score: cosine similarity")
    notes.append(f"{result.seconds * 1000:.0f} ms")
    console.print("  " + " · ".join(notes))
