"""Filters over generated samples; every drop keeps the sample and says why."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from synthdistill.data import Example
from synthdistill.generation import DroppedSample

_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """What counts as the same text: case and runs of white space do not."""
    return _SPACES.sub(" ", text).strip().casefold()


def _drop(example: Example, reason: str) -> DroppedSample:
    return DroppedSample(example.text, example.language or "", example.label, reason, dict(example.meta))


def filter_samples(
    samples: Sequence[Example],
    *,
    min_chars: int,
    max_chars: int,
    seed_texts: Iterable[str] = (),
) -> tuple[list[Example], list[DroppedSample]]:
    """Drop too short or too long texts, copies of seed examples, duplicates, and texts made for two labels."""
    copied = {normalise_text(text) for text in seed_texts}
    kept: list[Example] = []
    dropped: list[DroppedSample] = []
    for example in samples:
        length = len(example.text)
        if length < min_chars:
            dropped.append(_drop(example, "too_short"))
        elif length > max_chars:
            dropped.append(_drop(example, "too_long"))
        elif normalise_text(example.text) in copied:
            dropped.append(_drop(example, "copied_seed"))
        else:
            kept.append(example)

    labels_of: dict[tuple[str | None, str], set[str]] = defaultdict(set)
    for example in kept:
        labels_of[(example.language, normalise_text(example.text))].add(example.label)
    unique: list[Example] = []
    seen: set[tuple[str | None, str]] = set()
    for example in kept:
        key = (example.language, normalise_text(example.text))
        if len(labels_of[key]) > 1:
            dropped.append(_drop(example, "ambiguous"))
        elif key in seen:
            dropped.append(_drop(example, "duplicate"))
        else:
            seen.add(key)
            unique.append(example)
    return unique, dropped
