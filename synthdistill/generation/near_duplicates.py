"""Near-duplicate pairs by MinHash over character 5-grams, with LSH banding and an exact Jaccard check."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from synthdistill.generation.social_text import without_social_markup

_PRIME = 4294967311  # a prime above 2**32, so (a * h + b) stays inside uint64 for 32-bit a, b and h


def normalise_text(text: str) -> str:
    """What counts as the same text: case and runs of white space do not (split() splits on what the regular
    expression \\s matches, faster)."""
    return " ".join(text.split()).casefold()


def comparable_text(text: str) -> str:
    """What duplicates are judged on: the words (social_text.py: two replies that differ only in the handle they
    answer are one text), normalised; the whole text when it holds nothing else."""
    return normalise_text(without_social_markup(text) or text)


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


def find_root(parent: list[int], i: int) -> int:
    """Union-find: the representative of i's group, halving the path on the way."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = 0.8, num_perm: int = 64, bands: int = 16
) -> list[tuple[int, int]]:
    """Pairs (i < j) whose character 5-gram Jaccard similarity is at least `threshold`: enough of them to connect
    every group of near-duplicates (the groups are what deduplication needs), not every such pair.

    A text sharing an LSH bucket with texts already linked to each other is checked against that group until
    one member matches, so a bucket of thousands of near-identical texts (a teacher repeating itself) costs
    time linear in its size, not quadratic.
    """
    if len(texts) < 2:
        return []
    sets = [shingles(t) for t in texts]
    signatures = minhash_signatures(sets, num_perm)
    rows = num_perm // bands
    parent = list(range(len(texts)))
    links: list[tuple[int, int]] = []
    for band in range(bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for index, signature in enumerate(signatures[:, band * rows : (band + 1) * rows]):
            buckets[signature.tobytes()].append(index)
        for members in buckets.values():
            if len(members) < 2:
                continue
            groups: list[list[int]] = []  # this bucket's members seen so far, by the group they belong to
            for member in members:
                home: list[int] | None = None
                for group in list(groups):
                    if find_root(parent, group[0]) != find_root(parent, member):
                        match = next((o for o in group if jaccard(sets[o], sets[member]) >= threshold), None)
                        if match is None:
                            continue
                        links.append((match, member))
                        parent[find_root(parent, member)] = find_root(parent, match)
                    if home is None:
                        home = group
                    else:  # the member joins two groups of this bucket into one
                        home += group
                        groups.remove(group)
                if home is None:
                    groups.append([member])
                else:
                    home.append(member)
    return sorted(links)
