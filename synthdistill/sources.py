"""Which samples train each language's students: the teacher's own in that language, a pivot language's (a
multilingual student carries their labels over), the teacher's translations of the pivot's, a mix, or, with
`auto`, whichever candidate scores best on the human dev split.

Pure planning over samples already written: no teacher, no student. A pivot sample is written once and shared by
every language that uses it; its row in synthetic.jsonl keeps its real language and lists them in `used_by`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from synthdistill.config import SOURCE_KINDS, Config, SourceKind
from synthdistill.data import Example
from synthdistill.languages import resolve_language, same_language

WRITTEN, TRANSLATED = "written", "translated"  # a sample's meta["origin"]; rows without one were written
SEED = "seed"  # the human seed examples, a candidate of auto beside the synthetic sources
SYNTHETIC_KINDS: tuple[SourceKind, ...] = tuple(kind for kind in SOURCE_KINDS if kind != "auto")


@dataclass(frozen=True)
class SourcePlan:
    """Each task language's source, and the pivot language as its samples name it (a task language's own
    code when the pivot is one)."""

    kinds: dict[str, SourceKind]
    pivot: str | None
    pivot_share: float = 0.5
    mixed_with: SourceKind = "in_language"

    def uses_pivot(self, language: str) -> bool:
        """Whether this language's data may contain pivot-language samples written for another."""
        kind = self.kinds[language]
        return self.pivot is not None and language != self.pivot and kind in ("pivot", "mixed", "auto")

    def writes_in(self) -> list[str]:
        """The languages the teacher writes samples in: each that trains on its own (in_language, mixed with
        in-language samples, auto), then the pivot, once, if any language draws on it."""
        written = [
            language
            for language, kind in self.kinds.items()
            if kind in ("in_language", "auto") or (kind == "mixed" and self.mixed_with == "in_language")
        ]
        needs_pivot = any(self.translates(language) or self.uses_pivot(language) for language in self.kinds)
        if needs_pivot and self.pivot not in written:
            written.append(self.pivot)  # type: ignore[arg-type]
        return written

    def translates(self, language: str) -> bool:
        kind = self.kinds[language]
        if self.pivot is None or language == self.pivot:
            return False
        return kind in ("translate", "auto") or (kind == "mixed" and self.mixed_with == "translate")

    def translates_into(self) -> list[str]:
        return [language for language in self.kinds if self.translates(language)]

    def used_by(self, sample: Example) -> list[str]:
        """The task languages whose source may draw on this sample."""
        if sample.meta.get("origin", WRITTEN) == TRANSLATED:
            return [sample.language] if sample.language else []
        users = [language for language in self.kinds if language == sample.language]
        if sample.language == self.pivot:
            users += [language for language in self.kinds if self.uses_pivot(language)]
        return list(dict.fromkeys(users))

    def candidates(self, language: str, *, has_seed: bool, crosses_languages: bool) -> list[str]:
        """What `auto` tries for one language, for a student that can (or cannot) learn from another language's
        text: every synthetic source that applies, then the seed alone and the seed with each of them."""
        synthetic = ["in_language"]
        if self.pivot is not None and language != self.pivot:
            synthetic += ["translate"]
            if crosses_languages:
                synthetic += ["pivot", "mixed"]
        return synthetic + ([SEED] + [f"{SEED}+{kind}" for kind in synthetic] if has_seed else [])

    def name(self, source: str) -> str:
        """A source as reports show it: pivot:en, translate:en, mixed:en+in_language 50%, seed+pivot:en."""
        parts = []
        for part in source.split("+"):
            if part in ("pivot", "translate"):
                part = f"{part}:{self.pivot}"
            elif part == "mixed":
                part = f"mixed:{self.pivot} {self.pivot_share:.0%}+{self.mixed_with}"
            parts.append(part)
        return "+".join(parts)


def source_plan(config: Config) -> SourcePlan:
    """The plan of a validated config (config.py rejects the combinations that cannot work). The pivot language
    itself trains on its own samples whatever the default says, and auto there tries its own only."""
    spec = config.source
    pivot = None
    if spec.pivot is not None:
        wanted = resolve_language(spec.pivot)
        pivot = next((c for c in config.task.languages if same_language(resolve_language(c), wanted)), spec.pivot)
    kinds: dict[str, SourceKind] = {}
    for language in config.task.languages:
        kind = spec.kind(language)
        kinds[language] = "in_language" if language == pivot and kind != "auto" else kind
    return SourcePlan(kinds, pivot, spec.pivot_share, spec.mixed_with)


def written(sample: Example) -> bool:
    return sample.meta.get("origin", WRITTEN) == WRITTEN


def source_rows(
    plan: SourcePlan, source: str, language: str, synthetic: Sequence[Example], seed: Sequence[Example], draw: int
) -> list[Example]:
    """The training rows of one source for one language; `draw` seeds the mixed source's choice of samples."""
    if "+" in source:
        return [row for part in source.split("+") for row in source_rows(plan, part, language, synthetic, seed, draw)]
    if source == SEED:
        return list(seed)
    if source == "in_language":
        return [s for s in synthetic if s.language == language and written(s)]
    if source == "pivot":
        return [s for s in synthetic if s.language == plan.pivot and written(s)]
    if source == "translate":
        return [s for s in synthetic if s.language == language and not written(s)]
    if source == "mixed":
        pivot = source_rows(plan, "pivot", language, synthetic, seed, draw)
        other = source_rows(plan, plan.mixed_with, language, synthetic, seed, draw)
        if not pivot or not other:
            return []  # a mix needs both sides; one alone is already a candidate of its own
        return mixed_rows(pivot, other, plan.pivot_share, random.Random(f"{draw}:{language}:mixed"))
    raise ValueError(f"unknown source {source!r}")


def mixed_rows(pivot: Sequence[Example], other: Sequence[Example], share: float, rng: random.Random) -> list[Example]:
    """Per label, as many rows as the two pools hold on average, `share` of them pivot samples (fewer where a pool
    runs short): the mix is no bigger than either source alone, so auto compares like with like."""
    by_label: dict[str, tuple[list[Example], list[Example]]] = {}
    for row in pivot:
        by_label.setdefault(row.label, ([], []))[0].append(row)
    for row in other:
        by_label.setdefault(row.label, ([], []))[1].append(row)
    rows: list[Example] = []
    for from_pivot, from_other in by_label.values():
        total = round((len(from_pivot) + len(from_other)) / 2)
        k = min(len(from_pivot), round(share * total))
        rows += rng.sample(from_pivot, k) + rng.sample(from_other, min(len(from_other), total - k))
    return rows


def readable_languages(config: Config) -> list[str]:
    """The languages synthetic.jsonl may hold: the task's and the pivot's."""
    pivot = source_plan(config).pivot
    return list(dict.fromkeys([*config.task.languages, *([pivot] if pivot else [])]))
