"""How certain a score on ~200 test texts is: 95% bootstrap intervals over the test texts, and the paired
comparison of a student with the teacher on the same texts.

One resampling per language serves every classifier (the same resampled test sets for all), so differences are
paired. It is vectorised: a resample is a row of counts (how often each text is drawn), and every count of true
positives, predictions and gold labels is one matrix product, so 1,000 resamples of 200 texts take a few
milliseconds per classifier.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from synthdistill.data import sample_seed

RESAMPLES = 1000
CONFIDENCE = 0.95
Verdict = str  # "better", "worse" or "not distinguishable"


@dataclass(frozen=True)
class Resampling:
    """`counts[b, i]`: how often test text i is drawn in resample b (each row sums to the number of texts)."""

    counts: np.ndarray
    seed: int

    @property
    def resamples(self) -> int:
        return int(self.counts.shape[0])


def resampling(n_texts: int, *, seed: int, resamples: int = RESAMPLES) -> Resampling:
    """The resampled test sets of one language, drawn with `seed`: the same for every classifier scored on them."""
    rng = np.random.default_rng(seed)
    if n_texts == 0:
        return Resampling(np.zeros((resamples, 0), dtype=np.float64), seed)
    counts = rng.multinomial(n_texts, np.full(n_texts, 1.0 / n_texts), size=resamples).astype(np.float64)
    return Resampling(counts, seed)


def resampled_scores(
    gold: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str], draws: Resampling
) -> dict[str, np.ndarray]:
    """Macro-F1 and accuracy on every resample, by the rules of `classification_scores` (F1 over the task's
    labels, 0 where a label has neither gold nor predicted texts; an answer naming no label is wrong)."""
    if len(gold) != len(predicted) or len(gold) != draws.counts.shape[1]:
        raise ValueError(f"{len(gold)} gold labels, {len(predicted)} predictions, {draws.counts.shape[1]} texts drawn")
    correct = np.array([g == p for g, p in zip(gold, predicted, strict=True)], dtype=np.float64)
    n = max(len(gold), 1)
    return {"macro_f1": resampled_macro_f1(gold, [predicted], labels, draws)[0], "accuracy": draws.counts @ correct / n}


def interval(values: np.ndarray) -> list[float]:
    """The central 95% of the resampled values (percentile interval)."""
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def verdict(difference_interval: Sequence[float]) -> Verdict:
    """In words: better or worse when the 95% interval of the difference excludes zero, else not distinguishable."""
    low, high = difference_interval
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "not distinguishable"


def paired_difference(student: dict[str, np.ndarray], teacher: dict[str, np.ndarray]) -> np.ndarray:
    """Student minus teacher macro-F1 on each resample: both scored on the same resampled texts."""
    return student["macro_f1"] - teacher["macro_f1"]


def language_resampling(n_texts: int, *, seed: int, language: str) -> Resampling:
    """The resampling of one language's test split: the same for the teacher's settings and every student."""
    return resampling(n_texts, seed=sample_seed(seed, "bootstrap", language))


def score_intervals(resampled: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """The 95% intervals of a classifier's macro-F1 and accuracy, as ResultRecord fields."""
    return {"macro_f1_ci": interval(resampled["macro_f1"]), "accuracy_ci": interval(resampled["accuracy"])}


def comparison(
    student: dict[str, np.ndarray], teacher: dict[str, np.ndarray], *, difference: float, teacher_name: str
) -> dict[str, object]:
    """A student against the teacher on the same texts: the difference in macro-F1, its paired 95% interval and
    the verdict in words."""
    ci = interval(paired_difference(student, teacher))
    return {"teacher": teacher_name, "difference": round(difference, 4), "ci": ci, "verdict": verdict(ci)}


def mean_interval(scores: Sequence[float]) -> tuple[float, float, float, float]:
    """Mean, sample standard deviation, and the t-distribution 95% interval of the mean."""
    mean = statistics.fmean(scores)
    if len(scores) < 2:
        return mean, 0.0, mean, mean
    std = statistics.stdev(scores)
    half = student_t.ppf(0.975, len(scores) - 1) * std / math.sqrt(len(scores))
    return mean, std, mean - half, mean + half


def resampled_macro_f1(
    gold: Sequence[str], predicted: Sequence[Sequence[str | None]], labels: Sequence[str], draws: Resampling
) -> np.ndarray:
    """Macro-F1 of several classifiers on every resample, shape (classifiers, resamples), by the rules of
    `classification_scores`: a few matrix products for all of them, because an experiment scores thousands of cells
    on the same test split."""
    n_texts = draws.counts.shape[1]
    if len(gold) != n_texts or any(len(p) != n_texts for p in predicted):
        raise ValueError(f"{len(gold)} gold labels, {n_texts} texts drawn, and a classifier with another count")
    result = np.zeros((len(predicted), draws.resamples))
    if not labels or not predicted:
        return result
    index = {label: i for i, label in enumerate(labels)}
    classes = np.arange(len(labels))
    gold_ids = np.array([index.get(g, -1) for g in gold], dtype=np.int64)
    gold_counts = draws.counts @ (gold_ids[:, None] == classes).astype(np.float64)  # shared by every classifier
    # A chunk's columns (texts x 2 labels x chunk) and sums (resamples x 2 labels x chunk) stay near 2 million
    # floats each (16 MB), whatever the grid.
    chunk = max(1, 2_000_000 // (max(n_texts, draws.resamples, 1) * 2 * len(labels)))
    for start in range(0, len(predicted), chunk):
        block = predicted[start : start + chunk]
        ids = np.array([[index.get(p, -1) if p is not None else -1 for p in row] for row in block], dtype=np.int64)
        predicted_hot = ids[:, :, None] == classes  # (classifiers, texts, labels)
        hits = predicted_hot & (ids == gold_ids)[:, :, None]
        columns = np.concatenate([hits, predicted_hot], axis=2).transpose(1, 0, 2).reshape(n_texts, -1)
        summed = (draws.counts @ columns.astype(np.float64)).reshape(draws.resamples, len(block), 2, len(labels))
        true_positives, predicted_counts = summed[:, :, 0, :], summed[:, :, 1, :]
        denominator = gold_counts[:, None, :] + predicted_counts  # 2 tp + fp + fn
        f1 = np.divide(2 * true_positives, denominator, out=np.zeros_like(denominator), where=denominator > 0)
        result[start : start + len(block)] = f1.mean(axis=2).T
    return result


def over_repeats(per_repeat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Both sources of spread at once: `per_repeat[r, b]` is repeat r's score on test resample b; resample b of
    the result is the mean, over the repeats drawn with replacement (from `rng`) for b, of their scores on test
    resample b."""
    repeats, resamples = per_repeat.shape
    drawn = rng.integers(repeats, size=(resamples, repeats))
    return per_repeat[drawn, np.arange(resamples)[:, None]].mean(axis=1)
