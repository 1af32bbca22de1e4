"""`source: auto`: train a student on every candidate source and keep the one with the best macro-F1 on the human
dev split (never the test split). Every candidate's dev score, the choice and the reason are kept, so a report
can show why a language trains on what it trains on, including that no synthetic source beat the seed alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from synthdistill.data import Example
from synthdistill.errors import StudentError
from synthdistill.evaluation.scores import classification_scores
from synthdistill.sources import SEED


class Predicts(Protocol):
    """A fitted student, as far as choosing needs it (evaluation does not import the students)."""

    def predict(self, texts: Sequence[str]) -> list[str]: ...


@dataclass
class Candidate:
    source: str  # as reports show it: pivot:en, seed+translate:en, ...
    n_train: int
    dev_macro_f1: float | None = None  # None: not trained, `note` says why
    note: str | None = None


@dataclass
class SourceChoice:
    language: str
    classifier: str
    chosen: str
    reason: str
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> SourceChoice:
        return cls(**{**row, "candidates": [Candidate(**c) for c in row["candidates"]]})


def choose_source(
    candidates: Sequence[str],
    rows_of: Callable[[str], list[Example]],
    fit: Callable[[list[Example]], Predicts],
    dev: tuple[Sequence[str], Sequence[str]],
    labels: Sequence[str],
    *,
    name: Callable[[str], str] = str,
    language: str = "",
    classifier: str = "",
) -> tuple[Predicts, str, list[Example], SourceChoice]:
    """Fit a student on each candidate's rows, score each on `dev`; the best (the earlier candidate on a tie)
    with its source and rows, and the record of the choice. A candidate without rows, or whose student cannot be
    trained on them, is recorded and passed over; none left is a StudentError."""
    tried: list[Candidate] = []
    best: tuple[float, Predicts, str, list[Example]] | None = None
    for source in candidates:
        rows = rows_of(source)
        candidate = Candidate(name(source), len(rows))
        tried.append(candidate)
        if not rows:
            candidate.note = "no samples"
            continue
        try:
            student = fit(rows)
        except StudentError as err:
            candidate.note = str(err)
            continue
        score = classification_scores(list(dev[1]), student.predict(list(dev[0])), list(labels))["macro_f1"]
        candidate.dev_macro_f1 = score
        if best is None or score > best[0]:
            best = (score, student, source, rows)
    if best is None:
        notes = "; ".join(f"{c.source}: {c.note}" for c in tried)
        raise StudentError(f"auto: no candidate source could be trained ({notes})")
    score, student, source, rows = best
    choice = SourceChoice(language, classifier, name(source), choice_reason(source, tried, name), tried)
    return student, source, rows, choice


def choice_reason(source: str, tried: Sequence[Candidate], name: Callable[[str], str] = str) -> str:
    """One sentence: the winner's dev score against the runner-up's, and when the seed alone won, that no
    synthetic source helped."""
    scored = sorted((c for c in tried if c.dev_macro_f1 is not None), key=lambda c: -(c.dev_macro_f1 or 0.0))
    winner = scored[0]
    if source == SEED:
        synthetic = [c for c in scored if c.source != SEED]
        if synthetic:
            return (
                f"no synthetic source helped: the human seed alone scored {winner.dev_macro_f1:.3f} on dev, above "
                f"every source with synthetic samples (best: {synthetic[0].source} {synthetic[0].dev_macro_f1:.3f})"
            )
        return f"only the human seed could be trained ({winner.dev_macro_f1:.3f} on dev)"
    if len(scored) == 1:
        return f"the only candidate that could be trained ({winner.dev_macro_f1:.3f} on dev)"
    runner_up = scored[1]
    return (
        f"best macro-F1 on the dev split: {winner.dev_macro_f1:.3f}, against {runner_up.dev_macro_f1:.3f} for "
        f"{runner_up.source}"
    )
