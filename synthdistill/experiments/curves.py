"""Learning curves from repeated runs: mean, standard deviation and 95% confidence interval per training size,
and the crossover, the smallest N at which a student's mean beats the teacher, with a bootstrap interval.

The inputs are plain rows (one per finished run), so the same numbers come out whichever executor ran them.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from synthdistill.evaluation.intervals import mean_interval

BOOTSTRAP_SAMPLES = 1000
ALL_LANGUAGES = "all"


@dataclass(frozen=True)
class CurvePoint:
    """One point of a learning curve: a student trained on `source` data of total size `n`."""

    task: str
    language: str  # a language code, or a language group such as "low-resource"
    student: str
    source: str
    n: int
    repeats: int
    mean: float
    std: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Crossover:
    """The first N at which the student's mean macro-F1 is above the teacher's; None: never within the grid.
    `ci_low`/`ci_high` are the 2.5th and 97.5th percentiles of that N over bootstrap resamples of the repeats
    (None at the top: in more than 2.5% of resamples the student never beats the teacher)."""

    task: str
    language: str
    student: str
    source: str
    teacher: float
    n: int | None
    ci_low: int | None
    ci_high: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CurveKey = tuple[str, str, str, str]  # task, language, student, source


def group_scores(rows: Iterable[Mapping[str, Any]]) -> dict[CurveKey, dict[int, list[float]]]:
    """Rows with task, language, student, source, n and macro_f1 -> curve -> N -> scores (in repeat order)."""
    curves: dict[CurveKey, dict[int, list[float]]] = {}
    ordered = sorted(rows, key=lambda r: r.get("repeat", 0))
    for row in ordered:
        key = (row["task"], row["language"], row["student"], row["source"])
        curves.setdefault(key, {}).setdefault(int(row["n"]), []).append(float(row["macro_f1"]))
    return curves


def group_languages(
    curves: Mapping[CurveKey, Mapping[int, Sequence[float]]], groups: Mapping[str, Sequence[str]]
) -> dict[CurveKey, dict[int, list[float]]]:
    """A language group's curve: per N and repeat, the mean over the group's languages that have that repeat."""
    grouped: dict[CurveKey, dict[int, list[float]]] = {}
    by_rest: dict[tuple[str, str, str], dict[str, Mapping[int, Sequence[float]]]] = {}
    for (task, language, student, source), points in curves.items():
        by_rest.setdefault((task, student, source), {})[language] = points
    for (task, student, source), languages in by_rest.items():
        for group, members in groups.items():
            present = [languages[m] for m in members if m in languages]
            if not present:
                continue
            sizes = sorted(set.intersection(*(set(points) for points in present)))
            curve: dict[int, list[float]] = {}
            for n in sizes:
                repeats = min(len(points[n]) for points in present)
                curve[n] = [statistics.fmean(points[n][r] for points in present) for r in range(repeats)]
            if curve:
                grouped[(task, group, student, source)] = curve
    return grouped


def curve_points(curves: Mapping[CurveKey, Mapping[int, Sequence[float]]]) -> list[CurvePoint]:
    points = []
    for (task, language, student, source), by_n in curves.items():
        for n in sorted(by_n):
            mean, std, low, high = mean_interval(by_n[n])
            points.append(CurvePoint(task, language, student, source, n, len(by_n[n]), mean, std, low, high))
    return points


def _first_win(means: Sequence[tuple[int, float]], teacher: float) -> int | None:
    return next((n for n, mean in means if mean > teacher), None)


def crossover(key: CurveKey, by_n: Mapping[int, Sequence[float]], teacher: float, *, seed: int = 0) -> Crossover:
    """Bootstrap: resample each N's repeats with replacement, find the first win; the interval is the
    2.5th-97.5th percentile of those N, a never counting as beyond the grid."""
    sizes = sorted(by_n)
    found = _first_win([(n, statistics.fmean(by_n[n])) for n in sizes], teacher)
    rng = random.Random(seed)
    beyond = math.inf
    draws: list[float] = []
    for _ in range(BOOTSTRAP_SAMPLES):
        means = [(n, statistics.fmean(rng.choices(by_n[n], k=len(by_n[n])))) for n in sizes]
        first = _first_win(means, teacher)
        draws.append(beyond if first is None else first)
    draws.sort()
    low = draws[int(0.025 * (len(draws) - 1))]
    high = draws[math.ceil(0.975 * (len(draws) - 1))]
    return Crossover(
        *key, teacher=teacher, n=found, ci_low=None if low == beyond else int(low),
        ci_high=None if high == beyond else int(high),
    )  # fmt: skip


def crossovers(
    curves: Mapping[CurveKey, Mapping[int, Sequence[float]]], teacher: Mapping[tuple[str, str], float]
) -> list[Crossover]:
    """One crossover per curve whose (task, language) has a teacher score."""
    return [
        crossover(key, by_n, teacher[(key[0], key[1])]) for key, by_n in curves.items() if (key[0], key[1]) in teacher
    ]


def group_teacher(
    teacher: Mapping[tuple[str, str], float], groups: Mapping[str, Sequence[str]]
) -> dict[tuple[str, str], float]:
    """A group's teacher line: the mean of its languages' teacher scores."""
    out: dict[tuple[str, str], float] = {}
    for task in {task for task, _ in teacher}:
        for group, members in groups.items():
            scores = [teacher[(task, m)] for m in members if (task, m) in teacher]
            if scores:
                out[(task, group)] = statistics.fmean(scores)
    return out
