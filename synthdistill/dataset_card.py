"""The Markdown card beside every synthetic dataset: what is in it, what was dropped and why, what it cost,
how diverse it is, and the settings and template versions that made it."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations

from synthdistill.config import Config
from synthdistill.data import Example
from synthdistill.generation import DroppedSample
from synthdistill.language_id import is_identifiable
from synthdistill.languages import resolve_language
from synthdistill.near_duplicates import jaccard, shingles
from synthdistill.teachers.teacher import TeacherStats

_TOKEN = re.compile(r"\w+", re.UNICODE)
_MAX_PAIRS = 2000


def distinct_ngrams(texts: Sequence[str], n: int) -> float:
    """Distinct word n-grams over all n-grams (distinct-n): 1.0 means no n-gram repeats."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = [w.casefold() for w in _TOKEN.findall(text)]
        grams += [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def mean_pairwise_similarity(texts: Sequence[str], seed: int = 0) -> float:
    """Mean character 5-gram Jaccard similarity over all pairs, or 2,000 random pairs of a larger set."""
    if len(texts) < 2:
        return 0.0
    sets = [shingles(t) for t in texts]
    pairs = list(combinations(range(len(texts)), 2))
    if len(pairs) > _MAX_PAIRS:
        pairs = random.Random(seed).sample(pairs, _MAX_PAIRS)
    return sum(jaccard(sets[i], sets[j]) for i, j in pairs) / len(pairs)


def estimated_cost(config: Config, prompt_tokens: int, completion_tokens: int) -> float | None:
    spec = config.teacher
    if spec.price_per_million_prompt is None and spec.price_per_million_completion is None:
        return None
    return (
        prompt_tokens * (spec.price_per_million_prompt or 0.0)
        + completion_tokens * (spec.price_per_million_completion or 0.0)
    ) / 1e6


def render_card(
    config: Config,
    samples: Sequence[Example],
    dropped: Sequence[DroppedSample],
    stats: TeacherStats,
    *,
    teacher_model: str,
    summaries: Mapping[str, Mapping[str, str]] | None = None,
    status: str = "complete",
) -> str:
    task, labels = config.task, config.task.label_names
    lines = [f"# Synthetic dataset: {task.name}", "", f"Status: **{status}**", ""]
    lines += [f"Teacher: `{teacher_model}` ({config.teacher.prompt_mode} mode, {config.teacher.backend} backend)", ""]
    lines += [
        "## Samples kept",
        "",
        "| language | " + " | ".join(labels) + " | total |",
        "|---" * (len(labels) + 2) + "|",
    ]
    for language in task.languages:
        counts = [sum(1 for s in samples if s.language == language and s.label == label) for label in labels]
        lines.append(f"| {language} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")

    lines += ["", "## Dropped (all kept in dropped.jsonl)", ""]
    reasons = sorted({d.reason for d in dropped})
    if reasons:
        lines += ["| language | " + " | ".join(reasons) + " |", "|---" * (len(reasons) + 1) + "|"]
        for language in task.languages:
            counts = Counter(d.reason for d in dropped if d.language == language)
            lines.append(f"| {language} | " + " | ".join(str(counts[r]) for r in reasons) + " |")
    else:
        lines.append("Nothing was dropped.")

    lines += ["", "## Diversity", "", "| language | samples | distinct-1 | distinct-2 | mean pairwise similarity |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for language in task.languages:
        texts = [s.text for s in samples if s.language == language]
        lines.append(
            f"| {language} | {len(texts)} | {distinct_ngrams(texts, 1):.3f} | {distinct_ngrams(texts, 2):.3f} "
            f"| {mean_pairwise_similarity(texts):.3f} |"
        )
    lines += ["", "Similarity: character 5-gram Jaccard; lower is more diverse.", ""]

    total_prompt = stats.prompt_tokens + stats.cached_prompt_tokens
    total_completion = stats.completion_tokens + stats.cached_completion_tokens
    lines += [
        "## Teacher usage",
        "",
        f"- Requests: {stats.sent} sent in this run, {stats.cached} answered from the cache",
        f"- Tokens of this run's requests: {stats.prompt_tokens} prompt, {stats.completion_tokens} completion",
        f"- Tokens of all answers behind this dataset: {total_prompt} prompt, {total_completion} completion",
    ]
    cost = estimated_cost(config, total_prompt, total_completion)
    if cost is not None:
        lines.append(f"- Estimated cost of all answers at the configured prices: {cost:.4f}")

    lines += ["", "## How it was made", ""]
    templates = sorted({str(s.meta.get("template")) for s in samples} | {str(d.meta.get("template")) for d in dropped})
    lines.append(f"- Templates: {', '.join(t for t in templates if t != 'None') or 'none'}")
    unchecked = [code for code in task.languages if not is_identifiable(resolve_language(code))]
    if config.filters.language_id and unchecked:
        lines.append(f"- Language ID has no model for {', '.join(unchecked)}: only the script was checked")
    if summaries:
        lines += ["- Label summaries written by the teacher (label_summaries.json):"]
        lines += [f"  - {language} / {label}: {text}" for language, by_label in summaries.items()
                  for label, text in by_label.items()]  # fmt: skip
    lines += ["", "Settings:", "", "```yaml", config.to_yaml().rstrip(), "```", ""]
    return "\n".join(lines)
