"""How many tokens one sample may take, per language (`generation.max_tokens: auto`): sized from the seed texts'
lengths in the teacher's own tokens, because the same sentence takes several times more tokens in a language its
tokenizer knows badly (a fixed 80 cut 8 of 84 Swahili samples and no English one).

The rule: twice the 95th percentile of the seed texts' lengths, plus 8 tokens for the line format, within 32 to
512. Lengths come from the teacher's tokenizer where its backend offers one, else from UTF-8 bytes / 2.5; a
language without seed texts gets 160 tokens per UTF-8 byte of its script's letters (160 Latin, 320 Greek,
Cyrillic, Hebrew or Arabic, 480 the rest: Indic scripts, Thai, Chinese, ...).
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from synthdistill.config import GenerationSpec
from synthdistill.data import Example
from synthdistill.errors import TeacherError
from synthdistill.generation.language_id import expected_script
from synthdistill.languages import resolve_language
from synthdistill.teachers.teacher import Teacher

QUANTILE = 0.95  # a long seed text, not the longest: one outlier in a large pool would set the budget
# At the fixed 80 tokens, English (80 = 1.9 x its seeds' 95th percentile in Gemma's tokens) lost no sample to
# truncation and Swahili (1.2 x) 8 of 84; Welsh would have had 1.04 x. Twice gives every language English's room.
MARGIN = 2.0
FORMAT_TOKENS = 8  # a list number or "Sentence 12:" and the line break around each sample
MIN_TOKENS, MAX_TOKENS = 32, 512  # a short seed set still leaves room; a long-winded one cannot run away
# Without a tokenizer: Gemma 3's tokenizer gives 2.6 (Welsh) to 4.9 (English) bytes a token in Latin-script
# languages and 7 to 8.5 in Thai and Telugu (3 bytes a letter); 2.5 over-counts every one of the 11 languages of
# the paper, by 2.4 to 3.4 times in Thai and Telugu, where weaker tokenizers need the room.
BYTES_PER_TOKEN = 2.5
NO_SEED_TOKENS = 160  # per UTF-8 byte of the script's letters: twice the old fixed 80, which cut Welsh
# seed texts measured per language: a fixed random sample of a larger pool, whose 95th percentile was within 10% of
# the whole pool's in the paper's long-tailed sentiment pools (6,000 to 20,000 texts)
MAX_COUNTED = 2000
_TWO_BYTE_SCRIPTS = frozenset({"Grek", "Cyrl", "Armn", "Hebr", "Arab", "Syrc", "Thaa", "Nkoo"})  # U+0370-07FF

Method = Literal["configured", "tokenizer", "estimate", "default"]


@dataclass(frozen=True)
class TokenBudget:
    """max_tokens per sample in one language, and how it was found, for the dataset card."""

    language: str
    tokens: int
    method: Method  # configured: generation.max_tokens; default: no seed texts to measure
    n_texts: int = 0  # seed texts measured
    quantile_tokens: int | None = None  # their 95th-percentile length in tokens (estimated ones with `estimate`)
    note: str | None = None  # why the estimate stood in for the teacher's tokenizer

    def describe(self) -> str:
        if self.method == "configured":
            return "generation.max_tokens"
        if self.method == "default":
            return f"no seed texts: {NO_SEED_TOKENS} per UTF-8 byte of the script's letters"
        estimate = f"estimate (UTF-8 bytes / {BYTES_PER_TOKEN:g})"
        source = "teacher's tokenizer" if self.method == "tokenizer" else estimate
        text = f"{source}, {self.n_texts} seed texts: 95th percentile {self.quantile_tokens} tokens"
        return f"{text}; {self.note}" if self.note else text


def estimated_token_count(text: str) -> int:
    """Tokens a text may take in a tokenizer not at hand: generous, most of all for non-Latin scripts."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def quantile_length(lengths: Sequence[int], quantile: float = QUANTILE) -> int:
    """The nearest-rank quantile: a length that occurs (the longest of fewer than 20)."""
    ordered = sorted(lengths)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def budget_from_lengths(lengths: Sequence[int]) -> tuple[int, int]:
    """(max_tokens per sample, the quantile it was sized from)."""
    quantile = quantile_length(lengths)
    return min(MAX_TOKENS, max(MIN_TOKENS, math.ceil(MARGIN * quantile) + FORMAT_TOKENS)), quantile


def default_budget(language: str) -> int:
    """For a language without seed texts: more tokens where its letters take more bytes."""
    script = expected_script(resolve_language(language))
    bytes_per_letter = 1 if script == "Latn" else 2 if script in _TWO_BYTE_SCRIPTS else 3
    return min(MAX_TOKENS, NO_SEED_TOKENS * bytes_per_letter)


def language_budget(language: str, texts: Sequence[str], teacher: Teacher | None) -> TokenBudget:
    """One language's budget from its seed texts, counted by the teacher's tokenizer where it has one.

    A tokenizer that fails never stops generation: the estimate stands in, and the card says why.
    """
    if not texts:
        return TokenBudget(language, default_budget(language), "default")
    measured = list(texts) if len(texts) <= MAX_COUNTED else random.Random(0).sample(list(texts), MAX_COUNTED)
    counts: list[int] | None = None
    note = "no teacher asked"
    if teacher is not None:
        try:
            counts = teacher.count_tokens(measured)
            note = "the teacher offers no tokenizer"
        except TeacherError as err:
            note = f"the teacher's tokenizer failed ({err})"
            warnings.warn(f"{language}: {note}; max_tokens estimated from the seed texts' bytes", stacklevel=2)
    if counts is not None:
        tokens, quantile = budget_from_lengths(counts)
        return TokenBudget(language, tokens, "tokenizer", len(measured), quantile)
    tokens, quantile = budget_from_lengths([estimated_token_count(text) for text in measured])
    return TokenBudget(language, tokens, "estimate", len(measured), quantile, note)


def token_budgets(
    generation: GenerationSpec,
    languages: Sequence[str],
    seeds: Mapping[str, Sequence[Example]],
    teacher: Teacher | None = None,
) -> dict[str, TokenBudget]:
    """Per language, max_tokens per sample: generation.max_tokens when it is a number, else measured on that
    language's own seed texts (the samples are written in it, whatever language the demonstrations are in)."""
    if isinstance(generation.max_tokens, int):
        return {language: TokenBudget(language, generation.max_tokens, "configured") for language in languages}
    return {
        language: language_budget(language, [example.text for example in seeds.get(language, ())], teacher)
        for language in languages
    }
