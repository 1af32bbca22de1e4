"""Repetition loops: a small teacher sometimes repeats a phrase until max_tokens runs out ("kuja na kuja na kuja
na ..."). Such a text is no sample, and when the budget cut it, a larger budget would only have made it longer:
it is dropped as `repetitive`, not counted as truncated.

The measure is the share of distinct character 10-grams among all of a text's 10-grams: near 1 for prose in any
script (characters, not bytes or words, so Thai and Telugu score like English), low for a loop. Over 156,000
human texts of 30+ characters in ../shared/data (SIB-200, the paper's four tasks, NusaX, XLM-T tweets), 27 fall
below 0.5, all of them repeated hashtags, mentions or letters."""

from __future__ import annotations

GRAM = 10
MIN_CHARS = 30  # shorter texts have too few 10-grams to tell a loop from a repeated word


def distinct_share(text: str, n: int = GRAM) -> float:
    grams = [text[i : i + n] for i in range(len(text) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


def is_repetitive(text: str, min_share: float | None) -> bool:
    """Whether the text loops: at least MIN_CHARS characters, and fewer distinct 10-grams than `min_share` of
    them (None: never)."""
    return min_share is not None and len(text) >= MIN_CHARS and distinct_share(text) < min_share
