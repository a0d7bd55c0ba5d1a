"""Population stability index between a reference sample and a current one, per feature."""

from __future__ import annotations

import numpy as np
import polars as pl


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """PSI over the reference's quantile bins (the usual definition: sum (c - r) * ln(c / r)).

    Features with few distinct values (counts) get their distinct values as bins, so a spike at zero is
    one bin, not several identical edges."""
    reference = reference[~np.isnan(reference)]
    current = current[~np.isnan(current)]
    if len(reference) == 0 or len(current) == 0:
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) <= 2:
        values = np.unique(reference)
        edges = np.concatenate([values - 0.5, [values[-1] + 0.5]]) if len(values) > 1 else np.array([-np.inf, np.inf])
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(reference, edges)[0] / len(reference)
    c = np.histogram(current, edges)[0] / len(current)
    r, c = np.clip(r, eps, None), np.clip(c, eps, None)
    return float(np.sum((c - r) * np.log(c / r)))


def drift_report(reference: pl.DataFrame, current: pl.DataFrame, features: list[str]) -> dict[str, float]:
    return {f: round(psi(reference[f].to_numpy().astype(float), current[f].to_numpy().astype(float)), 4)
            for f in features if f in reference.columns and f in current.columns}
