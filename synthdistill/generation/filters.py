"""Filters over generated samples; every drop keeps the sample and says why.

Order: length, repetition loops, copies of seed examples, language ID, exact and near duplicates (a text made
for two labels is ambiguous and dropped for both), then, if asked, the teacher's own re-check, which never
rewrites a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from synthdistill.config import FilterSpec, TaskSpec
from synthdistill.data import DroppedSample, Example
from synthdistill.evaluation.teacher_classifier import classify_with_teacher, shots_per_label
from synthdistill.generation.language_id import check_language
from synthdistill.generation.near_duplicates import comparable_text, find_root, near_duplicate_pairs
from synthdistill.generation.repetition import is_repetitive
from synthdistill.languages import resolve_language
from synthdistill.teachers.protocol import PromptMode
from synthdistill.teachers.teacher import Teacher


def _drop(example: Example, reason: str) -> DroppedSample:
    return DroppedSample(example.text, example.language or "", example.label, reason, dict(example.meta))


def deduplicate(samples: Sequence[Example], near_threshold: float | None) -> tuple[list[Example], list[DroppedSample]]:
    """Group exact (and, with a threshold, near) duplicates per language; keep the first of a one-label group."""
    reasons: dict[int, str] = {}  # index in samples -> why it is dropped
    for language in dict.fromkeys(s.language for s in samples):
        indices = [i for i, s in enumerate(samples) if s.language == language]
        keys = [comparable_text(samples[i].text) for i in indices]
        parent = list(range(len(indices)))
        first_of: dict[str, int] = {}
        for position, key in enumerate(keys):
            parent[position] = find_root(parent, first_of.setdefault(key, position))
        if near_threshold is not None and near_threshold < 1:
            distinct = list(first_of.values())  # exact copies are grouped already: compare each text once
            for a, b in near_duplicate_pairs([keys[p] for p in distinct], near_threshold):
                parent[find_root(parent, distinct[b])] = find_root(parent, distinct[a])
        groups: dict[int, list[int]] = {}
        for position in range(len(indices)):
            groups.setdefault(find_root(parent, position), []).append(position)
        for members in groups.values():
            ambiguous = len({samples[indices[m]].label for m in members}) > 1
            for m in members:
                if ambiguous:
                    reasons[indices[m]] = "ambiguous"
                elif m != members[0]:
                    reasons[indices[m]] = "duplicate" if keys[m] == keys[members[0]] else "near_duplicate"
    kept = [s for i, s in enumerate(samples) if i not in reasons]
    dropped = [_drop(samples[i], reason) for i, reason in sorted(reasons.items())]
    return kept, dropped


def filter_samples(
    samples: Sequence[Example], spec: FilterSpec, *, seed_texts: Iterable[str] = ()
) -> tuple[list[Example], list[DroppedSample]]:
    """The text-only filters (no teacher): length, repetition loops, seed copies, language ID, duplicates."""
    copied = {comparable_text(text) for text in seed_texts}
    kept: list[Example] = []
    dropped: list[DroppedSample] = []
    for example in samples:
        length = len(example.text)
        if length < spec.min_chars:
            dropped.append(_drop(example, "too_short"))
        elif length > spec.max_chars:
            dropped.append(_drop(example, "too_long"))
        elif is_repetitive(example.text, spec.min_distinct_share):
            dropped.append(_drop(example, "repetitive"))
        elif comparable_text(example.text) in copied:
            dropped.append(_drop(example, "copied_seed"))
        elif spec.language_id and example.language is not None:
            check = check_language(example.text, resolve_language(example.language), spec.language_min_probability)
            (kept.append(example) if check.ok else dropped.append(_drop(example, check.reason)))
        else:
            kept.append(example)
    unique, duplicates = deduplicate(kept, spec.near_duplicate_threshold)
    return unique, dropped + duplicates


def truncation_explained(dropped: Sequence[DroppedSample], spec: FilterSpec) -> list[DroppedSample]:
    """Drops as they were, except answers cut at max_tokens that a larger budget could not have saved: cut inside a
    repetition loop (`repetitive`, it would only have grown) or already past max_chars (`too_long`, the length
    filter would have dropped the whole answer). `truncated` keeps meaning a budget too small for a good sample."""
    return [DroppedSample(d.text, d.language, d.label, _cut_reason(d, spec), d.meta) for d in dropped]


def _cut_reason(dropped: DroppedSample, spec: FilterSpec) -> str:
    if dropped.reason != "truncated":
        return dropped.reason
    if is_repetitive(dropped.text, spec.min_distinct_share):
        return "repetitive"
    return "too_long" if len(dropped.text) > spec.max_chars else "truncated"


def teacher_check(
    task: TaskSpec,
    mode: PromptMode,
    teacher: Teacher,
    samples: Sequence[Example],
    seeds: Mapping[str, Sequence[Example]],
    *,
    shots: int,
    seed: int,
) -> tuple[list[Example], list[DroppedSample]]:
    """Keep a sample only when the teacher, asked as a classifier with `shots` human examples per label (drawn
    with `seed`), gives its intended label."""
    kept: list[Example] = []
    dropped: list[DroppedSample] = []
    for language in task.languages:
        rows = [s for s in samples if s.language == language]
        if not rows:
            continue
        examples = shots_per_label(seeds.get(language, ()), task.label_names, shots, seed=seed)
        predictions = classify_with_teacher(task, mode, teacher, language, [r.text for r in rows], examples)
        for row, prediction in zip(rows, predictions, strict=True):
            if prediction.probabilities:  # what the teacher thought, for the review page and its confidence filter
                scored = {label: round(p, 4) for label, p in prediction.probabilities.items()}
                row = Example(row.text, row.label, row.language, {**row.meta, "teacher_probabilities": scored})
            if prediction.label == row.label:
                kept.append(row)
            elif prediction.label is None:
                dropped.append(_drop(row, "teacher_check:no_label"))
            else:
                dropped.append(_drop(row, f"teacher_check:{prediction.label}"))
    return kept, dropped
