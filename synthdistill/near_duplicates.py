"""Near-duplicate pairs by MinHash over character 5-grams, with LSH banding and an exact Jaccard check."""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

_SPACES = re.compile(r"\s+")
_PRIME = 4294967311  # a prime above 2**32, so (a * h + b) stays inside uint64 for 32-bit a, b and h


def normalise_text(text: str) -> str:
    """What counts as the same text: case and runs of white space do not."""
    return _SPACES.sub(" ", text).strip().casefold()


def shingles(text: str, size: int = 5) -> frozenset[str]:
    text = normalise_text(text)
    if len(text) <= size:
        return frozenset([text])
    return frozenset(text[i : i + size] for i in range(len(text) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def minhash_signatures(sets: Sequence[frozenset[str]], num_perm: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**32, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64)
    signatures = np.empty((len(sets), num_perm), dtype=np.uint64)
    for row, items in enumerate(sets):
        hashes = np.fromiter((zlib.crc32(s.encode("utf-8")) for s in items), dtype=np.uint64, count=len(items))
        signatures[row] = ((np.outer(a, hashes) + b[:, None]) % _PRIME).min(axis=1)
    return signatures


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = 0.8, num_perm: int = 64, bands: int = 16
) -> list[tuple[int, int]]:
    """Pairs (i < j) whose character 5-gram Jaccard similarity is at least `threshold`."""
    if len(texts) < 2:
        return []
    sets = [shingles(t) for t in texts]
    signatures = minhash_signatures(sets, num_perm)
    rows = num_perm // bands
    candidates: set[tuple[int, int]] = set()
    for band in range(bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for index, signature in enumerate(signatures[:, band * rows : (band + 1) * rows]):
            buckets[signature.tobytes()].append(index)
        for members in buckets.values():
            for i, first in enumerate(members):
                for second in members[i + 1 :]:
                    candidates.add((first, second))
    return sorted((i, j) for i, j in candidates if jaccard(sets[i], sets[j]) >= threshold)
