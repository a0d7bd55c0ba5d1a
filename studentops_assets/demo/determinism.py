"""The only sources of randomness and identity the demo generator uses.

Every random draw comes from a `random.Random` seeded from (seed, label), so each concern (people,
activity of student 17, the vault of `ada`...) has its own stream: adding a draw in one place never
shifts the data of another. Ids are uuid5 of a seed-derived namespace and a readable key, so the same
entity keeps the same id across runs and even across different `--students` counts.
"""

from __future__ import annotations

import hashlib
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
        self._hash = hashlib.sha1(self.namespace.bytes)

    def __call__(self, kind: str, *key: object) -> str:
        return self.name(":".join([kind, *map(str, key)]))

    def name(self, name: str) -> str:
        """str(uuid.uuid5(namespace, name)), computed the same way (SHA-1 of namespace + name, version 5,
        RFC 4122 variant) without building a UUID object: the generator makes one id per row, and
        uuid.uuid5 was a fifth of its time."""
        h = self._hash.copy()
        h.update(name.encode())
        n = int.from_bytes(h.digest()[:16], "big")
        n = (n & ~(0xF000 << 64) | 5 << 76) & ~(0xC000 << 48) | 0x8000 << 48
        x = "%032x" % n
        return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


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
