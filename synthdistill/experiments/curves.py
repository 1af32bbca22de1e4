"""Learning curves from repeated runs: mean, standard deviation and 95% t-interval per training size; each
point's difference to the teacher with a bootstrap interval over repeats and test texts; and the crossover, the
smallest N at which the student is better than the teacher at 95%.

The inputs are plain rows (one per finished cell) and, where cells kept their test predictions, each cell's
macro-F1 on its language's shared test resamples, so the same numbers come out whichever executor ran them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np

from synthdistill.data import sample_seed
from synthdistill.evaluation.intervals import RESAMPLES, interval, mean_interval, over_repeats, verdict

ALL_LANGUAGES = "all"
BETTER, WORSE = "better", "worse"


@dataclass(frozen=True)
class CurvePoint:
    """One point of a learning curve: a student trained on `source` data of total size `n`. `difference` is the
    mean minus the teacher's macro-F1, `difference_ci` its 95% bootstrap interval over repeats and test texts,
    `verdict` better / worse / not distinguishable; all three None without a teacher score. `ci_low`/`ci_high`:
    the t-interval of the mean over repeats; `mean_ci`: the mean's bootstrap interval over repeats and test
    texts, the one the plots draw (with 2 repeats a t-interval is 12.7 standard errors wide)."""

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
    difference: float | None = None
    difference_ci: tuple[float, float] | None = None
    verdict: str | None = None
    mean_ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Crossover:
    """`n`: the smallest N whose point is better than the teacher at 95% (its verdict); None: never within the
    grid. `n_mean`: the first N whose mean is above the teacher, without asking how sure that is.
    `ci_low`/`ci_high`: the 2.5th and 97.5th percentiles, over the bootstrap draws, of the first N at which the
    draw's mean beats the draw's teacher (None at the top: in more than 2.5% of draws it never does)."""

    task: str
    language: str
    student: str
    source: str
    teacher: float
    n: int | None
    ci_low: int | None
    ci_high: int | None
    n_mean: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CurveKey = tuple[str, str, str, str]  # task, language, student, source
Value = TypeVar("Value", float, np.ndarray)  # a cell's macro-F1, or its macro-F1 on each test resample


def group_scores(
    rows: Sequence[Mapping[str, Any]], values: Sequence[Value] | None = None
) -> dict[CurveKey, dict[int, list[Value]]]:
    """Rows with task, language, student, source, n and macro_f1 -> curve -> N -> scores (in repeat order);
    with `values`, `values[i]` stands for row i's score (such as its macro-F1 on every test resample)."""
    curves: dict[CurveKey, dict[int, list[Any]]] = {}
    for i in sorted(range(len(rows)), key=lambda i: rows[i].get("repeat", 0)):
        row = rows[i]
        key = (row["task"], row["language"], row["student"], row["source"])
        value = float(row["macro_f1"]) if values is None else values[i]
        curves.setdefault(key, {}).setdefault(int(row["n"]), []).append(value)
    return curves


def _mean(values: Sequence[Value]) -> Value:
    """The mean of plain scores, or draw by draw of resampled ones."""
    if isinstance(values[0], np.ndarray):
        return np.mean(np.stack(values), axis=0)
    return statistics.fmean(values)


def group_languages(
    curves: Mapping[CurveKey, Mapping[int, Sequence[Value]]], groups: Mapping[str, Sequence[str]]
) -> dict[CurveKey, dict[int, list[Value]]]:
    """A language group's curve: per N and repeat, the mean over the group's languages (for resampled scores, on
    each draw: each language's own resample b). Only where every language of the group has the curve: a student
    left out for some languages (tfidf on another language's pivot data) has no group curve, rather than one
    that silently stands for the languages it ran on."""
    grouped: dict[CurveKey, dict[int, list[Value]]] = {}
    by_rest: dict[tuple[str, str, str], dict[str, Mapping[int, Sequence[Value]]]] = {}
    for (task, language, student, source), points in curves.items():
        by_rest.setdefault((task, student, source), {})[language] = points
    for (task, student, source), languages in by_rest.items():
        for group, members in groups.items():
            present = [languages[m] for m in members if m in languages]
            if not present or len(present) < len(members):
                continue
            sizes = sorted(set.intersection(*(set(points) for points in present)))
            curve: dict[int, list[Value]] = {}
            for n in sizes:
                repeats = min(len(points[n]) for points in present)
                curve[n] = [_mean([points[n][r] for points in present]) for r in range(repeats)]
            if curve:
                grouped[(task, group, student, source)] = curve
    return grouped


def group_teacher(
    teacher: Mapping[tuple[str, str], Value], groups: Mapping[str, Sequence[str]]
) -> dict[tuple[str, str], Value]:
    """A group's teacher line: the mean of its languages' teacher scores (on each draw, for resampled ones)."""
    out: dict[tuple[str, str], Value] = {}
    for task in dict.fromkeys(task for task, _ in teacher):
        for group, members in groups.items():
            scores = [teacher[(task, m)] for m in members if (task, m) in teacher]
            if scores:
                out[(task, group)] = _mean(scores)
    return out


def curve_statistics(
    key: CurveKey,
    by_n: Mapping[int, Sequence[float]],
    teacher: float | None,
    *,
    resampled: Mapping[int, Sequence[np.ndarray]] | None = None,
    resampled_teacher: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[list[CurvePoint], Crossover | None]:
    """One curve's points and crossover. `resampled[n][r]`: repeat r's macro-F1 on each shared test resample, and
    `resampled_teacher` the teacher's on the same resamples; without them a repeat, or the teacher, is the same
    number on every draw (the bootstrap then resamples only what it has). Holds one curve's draws at a time."""
    rng = np.random.default_rng(seed)
    points: list[CurvePoint] = []
    differences: list[np.ndarray] = []
    for n in sorted(by_n):
        scores = by_n[n]
        mean, std, low, high = mean_interval(scores)
        repeats = resampled[n] if resampled is not None else [np.broadcast_to(s, (RESAMPLES,)) for s in scores]
        means = over_repeats(np.stack(repeats), rng)
        mean_low, mean_high = interval(means)
        if teacher is None:
            points.append(CurvePoint(*key, n, len(scores), mean, std, low, high, mean_ci=(mean_low, mean_high)))
            continue
        reference = resampled_teacher if resampled_teacher is not None else teacher  # a fixed number broadcasts
        difference = means - reference
        differences.append(difference)
        ci = interval(difference)
        point = CurvePoint(
            *key, n, len(scores), mean, std, low, high, mean - teacher, (ci[0], ci[1]), verdict(ci),
            (mean_low, mean_high),
        )  # fmt: skip
        points.append(point)
    if teacher is None:
        return points, None
    sizes = np.array([p.n for p in points], dtype=np.float64)
    wins = np.stack(differences) > 0  # (sizes, draws)
    first = np.sort(np.where(wins.any(axis=0), sizes[wins.argmax(axis=0)], math.inf))
    low, high = first[int(0.025 * (len(first) - 1))], first[math.ceil(0.975 * (len(first) - 1))]
    crossover = Crossover(
        *key, teacher=teacher, n=next((p.n for p in points if p.verdict == BETTER), None),
        ci_low=None if math.isinf(low) else int(low), ci_high=None if math.isinf(high) else int(high),
        n_mean=next((p.n for p in points if p.mean > teacher), None),
    )  # fmt: skip
    return points, crossover


def curves_statistics(
    curves: Mapping[CurveKey, Mapping[int, Sequence[float]]],
    teacher: Mapping[tuple[str, str], float],
    *,
    resampled: Mapping[CurveKey, Mapping[int, Sequence[np.ndarray]]] | None = None,
    resampled_teacher: Mapping[tuple[str, str], np.ndarray] | None = None,
    seed: int = 0,
) -> tuple[list[CurvePoint], list[Crossover]]:
    """Every curve's points, and a crossover for each curve whose (task, language) has a teacher score; each
    curve's repeats are resampled with its own seed (from `seed` and the curve), whatever the order."""
    points: list[CurvePoint] = []
    found: list[Crossover] = []
    for key, by_n in curves.items():
        mine, crossover = curve_statistics(
            key, by_n, teacher.get((key[0], key[1])), resampled=(resampled or {}).get(key),
            resampled_teacher=(resampled_teacher or {}).get((key[0], key[1])),
            seed=sample_seed(seed, "repeats", *key),
        )  # fmt: skip
        points += mine
        found += [crossover] if crossover else []
    return points, found
