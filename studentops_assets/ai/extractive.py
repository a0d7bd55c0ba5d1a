"""The offline summariser: TF-IDF sentence ranking with scikit-learn.

Used whenever no ANTHROPIC_API_KEY is configured, so the demo and the digests work offline. It only
selects sentences the author wrote and terms that occur in the text: it invents nothing, and it
makes no flashcards (a question/answer pair needs understanding we cannot fake).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

_FENCE = re.compile(r"```.*?```", re.DOTALL)
_MARKUP = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[\[([^\]|]+)(?:\|[^\]]+)?\]\]|\[([^\]]+)\]\([^)]*\)|[#>*_`|]")
# A sentence ends at . ! ? followed by space and a capital/digit, or at a line break.
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")


@dataclass(frozen=True)
class ExtractiveSummary:
    summary: str
    key_terms: list[str]


def plain_text(markdown: str) -> str:
    text = _FENCE.sub(" ", markdown or "")
    return _MARKUP.sub(lambda m: m.group(1) or m.group(2) or " ", text)


def sentences(text: str) -> list[str]:
    """The text's sentences, without headings (titles are not statements) and without repeats."""
    body = "\n".join(line for line in (text or "").splitlines() if not line.lstrip().startswith("#"))
    out, seen = [], set()
    for piece in _SENTENCE.split(plain_text(body)):
        piece = re.sub(r"\s+", " ", piece).strip(" -\t")
        norm = piece.lower()
        # A list bullet of two words is not a sentence worth quoting.
        if len(piece.split()) >= 4 and norm not in seen:
            seen.add(norm)
            out.append(piece)
    return out


def summarise(text: str, *, max_sentences: int = 3, max_terms: int = 8) -> ExtractiveSummary:
    """The `max_sentences` most central sentences, in their original order, and the top terms.

    Centrality: each sentence's TF-IDF vector (sentences as documents) against the whole text's
    centroid; sublinear tf keeps one repeated word from dominating.
    """
    found = sentences(text)
    if not found:
        words = plain_text(text).split()
        return ExtractiveSummary(summary=" ".join(words[:60]), key_terms=[])
    try:
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2), min_df=1)
        matrix = vectorizer.fit_transform(found)
    except ValueError:  # only stop words
        return ExtractiveSummary(summary=" ".join(found[:max_sentences]), key_terms=[])
    centroid = np.asarray(matrix.mean(axis=0)).ravel()
    scores = matrix @ centroid
    top = sorted(np.argsort(-scores, kind="stable")[:max_sentences])
    summary = " ".join(found[i] for i in top)
    weights = np.asarray(matrix.sum(axis=0)).ravel()
    terms = vectorizer.get_feature_names_out()
    key_terms: list[str] = []
    for index in np.argsort(-weights, kind="stable"):
        term = str(terms[index])
        # Prefer a bigram over the unigrams it contains, and never list both.
        if any(term in kept or kept in term for kept in key_terms):
            continue
        key_terms.append(term)
        if len(key_terms) == max_terms:
            break
    return ExtractiveSummary(summary=summary, key_terms=key_terms)
