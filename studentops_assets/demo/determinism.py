"""The only sources of randomness and identity the demo generator uses.

Every random draw comes from a `random.Random` seeded from (seed, label), so each concern (people,
activity of student 17, the vault of `ada`...) has its own stream: adding a draw in one place never
shifts the data of another. Ids are uuid5 of a seed-derived namespace and a readable key, so the same
entity keeps the same id across runs and even across different `--students` counts.
"""

from __future__ import annotations

import math
import random
import uuid


def stream(seed: int, *label: object) -> random.Random:
    # A str seed is hashed with SHA-512 by `random` (version 2 seeding): stable across processes,
    # unlike hash(), which is salted per interpreter.
    return random.Random(":".join([str(seed), *map(str, label)]))


class Ids:
    def __init__(self, seed: int) -> None:
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"https://studentops.example/demo/seed/{seed}")

    def __call__(self, kind: str, *key: object) -> str:
        return str(uuid.uuid5(self.namespace, ":".join([kind, *map(str, key)])))


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: exact and fast for the small rates (< 10) drawn here; stdlib has no Poisson."""
    if lam <= 0:
        return 0
    if lam > 30:
        # Normal approximation keeps the loop short for the rare large rate.
        return max(0, round(rng.gauss(lam, lam ** 0.5)))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
