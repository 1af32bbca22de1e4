"""The Markdown card beside every synthetic dataset: what is in it, what was dropped and why, what it cost,
how diverse it is, and the settings and template versions that made it."""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence

from synthdistill.config import Config
from synthdistill.data import DroppedSample, Example
from synthdistill.generation.language_id import is_identifiable
from synthdistill.generation.near_duplicates import jaccard, shingles
from synthdistill.languages import resolve_language
from synthdistill.teachers import estimated_cost
from synthdistill.teachers.teacher import TeacherStats

_SEPARATOR = "\x1e"  # between texts: not a word character
_TOKEN_OR_SEPARATOR = re.compile(r"\w+|\x1e", re.UNICODE)
_MAX_PAIRS = 2000
_CHUNK = 5000  # texts tokenised at once


def distinct_ngrams(texts: Sequence[str], sizes: Sequence[int] = (1, 2)) -> list[float]:
    """Distinct word n-grams over all n-grams (distinct-n) for each n in `sizes`: 1.0 means no n-gram repeats.

    Texts are tokenised a chunk at a time, joined by a separator that no n-gram may span: one regex call per
    chunk instead of one per text, and memory bounded by the chunk, not the dataset.
    """
    seen: list[set] = [set() for _ in sizes]
    totals = [0] * len(sizes)
    for start in range(0, len(texts), _CHUNK):
        tokens = _TOKEN_OR_SEPARATOR.findall(_SEPARATOR.join(texts[start : start + _CHUNK]).casefold())
        for position, n in enumerate(sizes):
            if n == 1:
                grams: list = [t for t in tokens if t != _SEPARATOR]
            else:
                grams = [g for g in zip(*(tokens[i:] for i in range(n)), strict=False) if _SEPARATOR not in g]
            totals[position] += len(grams)
            seen[position].update(grams)
    return [len(grams) / total if total else 0.0 for grams, total in zip(seen, totals, strict=True)]


def mean_pairwise_similarity(texts: Sequence[str], seed: int = 0) -> float:
    """Mean character 5-gram Jaccard similarity over all pairs, or 2,000 random pairs of a larger set.

    Pairs are drawn by their rank among all pairs, so time and memory grow with the sample count, not its square.
    """
    n = len(texts)
    if n < 2:
        return 0.0
    n_pairs = n * (n - 1) // 2
    ranks = range(n_pairs) if n_pairs <= _MAX_PAIRS else random.Random(seed).sample(range(n_pairs), _MAX_PAIRS)
    starts = [i * (2 * n - i - 1) // 2 for i in range(n - 1)]  # rank of the pair (i, i + 1)
    sets: dict[int, frozenset[str]] = {}

    def shingled(index: int) -> frozenset[str]:
        if index not in sets:
            sets[index] = shingles(texts[index])
        return sets[index]

    total = 0.0
    for rank in ranks:
        i = bisect_right(starts, rank) - 1
        j = i + 1 + rank - starts[i]
        total += jaccard(shingled(i), shingled(j))
    return total / len(ranks)


def sampling_lines(config: Config, metas: Sequence[Mapping[str, object]], teacher_model: str) -> list[str]:
    """Everything that decides what the teacher samples, so a remote run can be matched or repeated: the settings
    sent, the per-request seeds, and what the server said about itself (model answering, system fingerprint)."""
    teacher, generation = config.teacher, config.generation
    penalty = generation.repetition_penalty
    lines = [
        f"- Sampling sent with every generation request: temperature {generation.temperature:g}, top_p "
        f"{generation.top_p:g}, repetition penalty {'none' if penalty is None else f'{penalty:g}'}, "
        f"max_tokens {generation.max_tokens} per sample",
        f"- Seeds: each request carries its own (`seed` in synthetic.jsonl and dropped.jsonl), derived from "
        f"generation.seed {generation.seed}, the task, language and label, and the request's index",
    ]
    served = sorted({str(m["served_model"]) for m in metas if m.get("served_model")})
    lines.append(
        f"- Model asked for: `{teacher_model}`"
        + (f"; the server answered as {', '.join(f'`{m}`' for m in served)}" if served else "")
    )
    fingerprints = sorted({str(m["fingerprint"]) for m in metas if m.get("fingerprint")})
    if fingerprints:
        lines.append(
            f"- Server fingerprint (system_fingerprint): {', '.join(f'`{f}`' for f in fingerprints)}"
            + (" (changed during the run: its answers may not be repeatable)" if len(fingerprints) > 1 else "")
        )
    else:
        lines.append("- Server fingerprint: none reported")
    if teacher.backend == "embedded":
        lines.append(
            "- Reproducible: one llama.cpp slot, one request at a time in a fixed order; the same config on the same "
            "machine writes the same bytes"
            if teacher.is_reproducible
            else f"- Not reproducible: {teacher.n_parallel} llama.cpp slots, {teacher.max_concurrency} requests in "
            "flight; an answer depends on which requests share its batch, so runs differ slightly (reproducible: "
            "true repeats exactly)"
        )
    return lines


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
    kept = Counter((s.language, s.label) for s in samples)
    for language in task.languages:
        counts = [kept[language, label] for label in labels]
        lines.append(f"| {language} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")

    lines += ["", "## Dropped (all kept in dropped.jsonl)", ""]
    reasons = sorted({d.reason for d in dropped})
    if reasons:
        lines += ["| language | " + " | ".join(reasons) + " |", "|---" * (len(reasons) + 1) + "|"]
        by_language = Counter((d.language, d.reason) for d in dropped)
        for language in task.languages:
            lines.append(f"| {language} | " + " | ".join(str(by_language[language, r]) for r in reasons) + " |")
    else:
        lines.append("Nothing was dropped.")

    lines += ["", "## Diversity", "", "| language | samples | distinct-1 | distinct-2 | mean pairwise similarity |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    texts_of: dict[str | None, list[str]] = {}
    for sample in samples:
        texts_of.setdefault(sample.language, []).append(sample.text)
    for language in task.languages:
        texts = texts_of.get(language, [])
        distinct_1, distinct_2 = distinct_ngrams(texts, (1, 2))
        lines.append(
            f"| {language} | {len(texts)} | {distinct_1:.3f} | {distinct_2:.3f} "
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
    cost = estimated_cost(config.teacher, total_prompt, total_completion)
    if cost is not None:
        lines.append(f"- Estimated cost of all answers at the configured prices: {cost:.4f}")

    lines += ["", "## How it was made", ""]
    lines += sampling_lines(config, [s.meta for s in samples] + [d.meta for d in dropped], teacher_model)
    templates = sorted({str(s.meta.get("template")) for s in samples} | {str(d.meta.get("template")) for d in dropped})
    lines.append(f"- Templates: {', '.join(t for t in templates if t != 'None') or 'none'}")
    # the language-ID model is loaded only when the filter is on
    unchecked = (
        [c for c in task.languages if not is_identifiable(resolve_language(c))] if config.filters.language_id else []
    )
    if unchecked:
        lines.append(f"- Language ID has no model for {', '.join(unchecked)}: only the script was checked")
    if summaries:
        lines += ["- Label summaries written by the teacher (label_summaries.json):"]
        lines += [f"  - {language} / {label}: {text}" for language, by_label in summaries.items()
                  for label, text in by_label.items()]  # fmt: skip
    lines += ["", "Settings:", "", "```yaml", config.to_yaml().rstrip(), "```", ""]
    return "\n".join(lines)
