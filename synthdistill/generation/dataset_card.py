"""The Markdown card beside every synthetic dataset: what is in it, what was dropped and why, what it cost,
how diverse it is, and the settings and template versions that made it."""

from __future__ import annotations

import random
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from synthdistill.config import Config
from synthdistill.data import DroppedSample, Example
from synthdistill.evaluation.source_choice import SourceChoice
from synthdistill.generation.language_id import expected_script, is_identifiable
from synthdistill.generation.near_duplicates import jaccard, shingles
from synthdistill.generation.token_budgets import (
    FORMAT_TOKENS,
    MARGIN,
    MAX_TOKENS,
    MIN_TOKENS,
    QUANTILE,
    TokenBudget,
)
from synthdistill.languages import resolve_language
from synthdistill.sources import SYNTHETIC_KINDS, WRITTEN, source_plan, source_rows, written
from synthdistill.teachers import estimated_cost
from synthdistill.teachers.teacher import TeacherStats

_SEPARATOR = "\x1e"  # between texts: not a word character
_MAX_PAIRS = 2000
_CHUNK = 5000  # texts tokenised at once
# Scripts written without spaces between words, where a whitespace "word" is a phrase or a whole sentence (a
# Japanese run scored distinct-1 0.96): there each character, with its combining marks, is one unit
_UNSEGMENTED = (
    "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # kana, and the marks 々 〆 〇
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f\ua9e0-\ua9ff\uaa60-\uaa7f"  # Myanmar
    "\u1780-\u17ff\u19e0-\u19ff"  # Khmer
    "\u1950-\u19df\u1a20-\u1aaf\uaa80-\uaadf"  # Tai Le, New Tai Lue, Tai Tham, Tai Viet
)  # the Basic Multilingual Plane only: a class reaching beyond it made the regex 3 times slower
UNSEGMENTED_SCRIPTS = frozenset({"Hans", "Hant", "Jpan", "Thai", "Laoo", "Khmr", "Mymr"})  # ISO 15924


@lru_cache(maxsize=1)
def _units() -> re.Pattern[str]:
    """Units of distinct-n: a character of an unsegmented script with its marks; elsewhere a word, marks
    included (a vowel sign of Telugu or Devanagari is no word character, and used to cut its word in pieces).
    Built on first use, from the combining marks of the Basic Multilingual Plane (30 ms)."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    mark = "[" + "".join(f"\\u{first:04x}-\\u{last:04x}" for first, last in ranges) + "]"
    word = rf"[^\W{_UNSEGMENTED}]+(?:{mark}+[^\W{_UNSEGMENTED}]*)*"  # 1.5 times the time of \w+ over Latin text
    return re.compile(rf"{word}|(?=\w)[{_UNSEGMENTED}]{mark}*|{_SEPARATOR}")


def diversity_unit(language: str) -> str:
    """What distinct-n counts in a language: characters in an unsegmented script, else words."""
    return "characters" if expected_script(resolve_language(language)) in UNSEGMENTED_SCRIPTS else "words"


def distinct_ngrams(texts: Sequence[str], sizes: Sequence[int] = (1, 2)) -> list[float]:
    """Distinct n-grams over all n-grams (distinct-n) for each n in `sizes`: 1.0 means no n-gram repeats.

    Units are words, but single characters in scripts written without spaces (Chinese, Japanese, Thai, Lao,
    Khmer, Burmese), where a whitespace word would be a whole phrase. Texts are tokenised a chunk at a time,
    joined by a separator that no n-gram may span: one regex call per chunk instead of one per text, and
    memory bounded by the chunk, not the dataset.
    """
    seen: list[set] = [set() for _ in sizes]
    totals = [0] * len(sizes)
    units = _units()
    for start in range(0, len(texts), _CHUNK):
        tokens = units.findall(_SEPARATOR.join(texts[start : start + _CHUNK]).casefold())
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


def sampling_lines(
    config: Config,
    metas: Sequence[Mapping[str, object]],
    teacher_model: str,
    budgets: Mapping[str, TokenBudget] | None = None,
) -> list[str]:
    """Everything that decides what the teacher samples, so a remote run can be matched or repeated: the settings
    sent, the per-request seeds, and what the server said about itself (model answering, system fingerprint)."""
    teacher, generation = config.teacher, config.generation
    penalty = generation.repetition_penalty
    max_tokens = f"max_tokens {generation.max_tokens} per sample"
    if generation.max_tokens == "auto":
        sized = ", ".join(f"{language} {budget.tokens}" for language, budget in (budgets or {}).items())
        max_tokens = f"max_tokens per sample sized per language (auto; see Token budgets): {sized or 'not recorded'}"
    lines = [
        f"- Sampling sent with every generation request: temperature {generation.temperature:g}, top_p "
        f"{generation.top_p:g}, repetition penalty {'none' if penalty is None else f'{penalty:g}'}, {max_tokens}",
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


def source_lines(config: Config, samples: Sequence[Example]) -> list[str]:
    """Where each language's training data comes from, and how many samples each source holds for it."""
    plan = source_plan(config)
    counts = {
        language: {kind: len(source_rows(plan, kind, language, samples, (), config.generation.seed))
                   for kind in SYNTHETIC_KINDS}
        for language in plan.kinds
    }  # fmt: skip
    lines = ["## Sources", "", "| language | source | in-language | pivot | translated | mixed |",
             "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for language, kind in plan.kinds.items():
        shown = {k: str(n) if n or k == "in_language" else "-" for k, n in counts[language].items()}
        if language == plan.pivot or plan.pivot is None:
            shown.update(pivot="-", mixed="-", translate="-")
        lines.append(f"| {language} | {plan.name(kind)} | {shown['in_language']} | {shown['pivot']} | "
                     f"{shown['translate']} | {shown['mixed']} |")  # fmt: skip
    lines += [""]
    n = config.source.translations_per_request
    per_request = "one request per sample" if n == 1 else f"{n} samples per request as a numbered list"
    if plan.pivot is not None and any(plan.uses_pivot(c) or plan.translates(c) for c in plan.kinds):
        users = [c for c in plan.kinds if plan.uses_pivot(c) or plan.translates(c)]
        lines.append(
            f"Pivot samples are written once, in {plan.pivot}, and shared by {', '.join(users)} (`used_by` in "
            "synthetic.jsonl). Translations: the teacher translates each kept pivot sample, greedily, "
            f"{per_request} (template in `template`, the source sample in `translated_from`); they pass the same "
            "filters as written samples. mixed: per label, the two pools' mean size, "
            f"{plan.pivot_share:.0%} of it pivot samples, the rest {plan.mixed_with}."
        )
    else:
        lines.append("Every language trains on the samples the teacher wrote in it (source.default: in_language).")
    if "auto" in plan.kinds.values():
        lines.append(
            "auto: `train` tries every candidate source on each student and keeps the best on the human dev split "
            "(see the section below once it has run, and report.md)."
        )
    return lines


def budget_lines(
    config: Config,
    budgets: Mapping[str, TokenBudget],
    samples: Sequence[Example],
    dropped: Sequence[DroppedSample],
) -> list[str]:
    """Each language's max_tokens per sample, how it was found, and the share of its samples cut by it."""
    # written samples only: a translation's budget and drops are its own (translation:truncated)
    made = Counter(s.language for s in samples if written(s)) + Counter(
        d.language for d in dropped if d.meta.get("origin", WRITTEN) == WRITTEN
    )
    truncated = Counter(d.language for d in dropped if d.reason == "truncated")
    lines = ["## Token budgets", "", "| language | max_tokens per sample | from | truncated |", "|---|---:|---|---:|"]
    for language in dict.fromkeys([*config.task.languages, *budgets]):
        budget = budgets.get(language)
        cut, total = truncated[language], made[language]
        share = f"{cut} of {total} ({cut / total:.1%})" if total else "none made"
        tokens, source = (budget.tokens, budget.describe()) if budget is not None else ("?", "not recorded")
        lines.append(f"| {language} | {tokens} | {source.replace('|', '/')} | {share} |")  # a server's error text
    rule = (
        f"generation.max_tokens auto: {MARGIN:g} x the {QUANTILE * 100:.0f}th percentile of the language's seed texts' "
        f"lengths in tokens, + {FORMAT_TOKENS} for the line format, within {MIN_TOKENS} to {MAX_TOKENS}. "
        if config.generation.max_tokens == "auto"
        else ""
    )
    truncation = (
        "Truncated: samples dropped because the answer reached max_tokens, of all samples the teacher wrote there "
        "(translations not counted); an answer cut inside a repetition loop is dropped as repetitive instead."
    )
    return [*lines, "", rule + truncation]


def render_card(
    config: Config,
    samples: Sequence[Example],
    dropped: Sequence[DroppedSample],
    stats: TeacherStats,
    *,
    teacher_model: str,
    budgets: Mapping[str, TokenBudget],
    summaries: Mapping[str, Mapping[str, str]] | None = None,
    status: str = "complete",
) -> str:
    """`budgets`: each language's max_tokens per sample and how it was found (token_budgets)."""
    task, labels = config.task, config.task.label_names
    languages = list(dict.fromkeys([*task.languages, *budgets, *(s.language for s in samples if s.language)]))
    lines = [f"# Synthetic dataset: {task.name}", "", f"Status: **{status}**", ""]
    lines += [f"Teacher: `{teacher_model}` ({config.teacher.prompt_mode} mode, {config.teacher.backend} backend)", ""]
    lines += [
        "## Samples kept",
        "",
        "| language | " + " | ".join(labels) + " | total |",
        "|---" * (len(labels) + 2) + "|",
    ]
    kept = Counter((s.language, s.label) for s in samples)
    for language in languages:
        counts = [kept[language, label] for label in labels]
        lines.append(f"| {language} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")

    lines += ["", "## Dropped (all kept in dropped.jsonl)", ""]
    reasons = sorted({d.reason for d in dropped})
    if reasons:
        lines += ["| language | " + " | ".join(reasons) + " |", "|---" * (len(reasons) + 1) + "|"]
        by_language = Counter((d.language, d.reason) for d in dropped)
        for language in languages:
            lines.append(f"| {language} | " + " | ".join(str(by_language[language, r]) for r in reasons) + " |")
    else:
        lines.append("Nothing was dropped.")
    lines += ["", *source_lines(config, samples)]
    lines += ["", *budget_lines(config, budgets, samples, dropped)]

    lines += ["", "## Diversity", "",
              "| language | samples | unit | distinct-1 | distinct-2 | mean pairwise similarity |",
              "|---|---:|---|---:|---:|---:|"]  # fmt: skip
    texts_of: dict[str | None, list[str]] = {}
    for sample in samples:
        texts_of.setdefault(sample.language, []).append(sample.text)
    for language in languages:
        texts = texts_of.get(language, [])
        distinct_1, distinct_2 = distinct_ngrams(texts, (1, 2))
        lines.append(
            f"| {language} | {len(texts)} | {diversity_unit(language)} | {distinct_1:.3f} | {distinct_2:.3f} "
            f"| {mean_pairwise_similarity(texts):.3f} |"
        )
    lines += [
        "",
        "distinct-n: distinct n-grams over all n-grams within texts, of words, or of characters (each with its "
        "combining marks) in scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese); "
        "compare a language's figures with its own, not across units. Similarity: character 5-gram Jaccard; "
        "lower is more diverse.",
        "",
    ]

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
    lines += sampling_lines(config, [s.meta for s in samples] + [d.meta for d in dropped], teacher_model, budgets)
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


CHOICES_HEADING = "## Sources chosen on the dev split"


def with_source_choices(card: str, choices: Sequence[SourceChoice]) -> str:
    """The card with a section on auto's choices (in place of an older one), before its token budgets."""
    lines = ["| language | student | chosen | why | every candidate's dev macro-F1 |", "|---|---|---|---|---|"]
    for choice in choices:
        scores = ", ".join(
            f"{c.source} {c.dev_macro_f1:.3f} (n={c.n_train})" if c.dev_macro_f1 is not None
            else f"{c.source}: {c.note}" for c in choice.candidates
        )  # fmt: skip
        lines.append(f"| {choice.language} | {choice.classifier} | {choice.chosen} | {choice.reason} | {scores} |")
    return _with_section(card, CHOICES_HEADING, lines)


REVIEWS_HEADING = "## Reviewed by a person"


def with_reviews(card: str, actions: Mapping[str, int], trained: Sequence[Mapping[str, Any]]) -> str:
    """The card with a section on a person's decisions (review.jsonl) and how many reviewed samples each
    student trained on (in place of an older one), before its token budgets."""
    counted = ", ".join(f"{count} {action}" for action, count in actions.items() if count) or "none standing"
    lines = [
        f"Standing decisions in review.jsonl: {counted}. Training used the samples as reviewed.",
        "",
        "| language | student | trained on | training samples | reviewed by a person |",
        "|---|---|---|---:|---:|",
    ]
    for entry in trained:
        lines.append(f"| {entry['language']} | {entry['classifier']} | {entry['train_source']} | {entry['n_train']} "
                     f"| {entry.get('n_reviewed', 0)} |")  # fmt: skip
    return _with_section(card, REVIEWS_HEADING, lines)


def _with_section(card: str, heading: str, lines: Sequence[str]) -> str:
    """The card with `heading`'s section (in place of an older one), before its token budgets."""
    section = "\n".join([heading, "", *lines]) + "\n\n"
    start = card.find(heading)
    if start >= 0:
        following = card.find("\n## ", start + len(heading))
        card = card[:start] + (card[following + 1 :] if following >= 0 else "")
    anchor = card.find("## Token budgets")
    return card[:anchor] + section + card[anchor:] if anchor >= 0 else card.rstrip("\n") + "\n\n" + section
