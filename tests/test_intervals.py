"""Bootstrap intervals and the paired comparison, checked against a direct computation on each resample."""

import random

import numpy as np
import pytest

from synthdistill.evaluation.intervals import (
    Resampling,
    interval,
    paired_difference,
    resampled_macro_f1,
    resampled_scores,
    resampling,
    verdict,
)
from synthdistill.evaluation.scores import classification_scores

LABELS = ["a", "b", "c", "d"]


def _data(n: int, seed: int) -> tuple[list[str], list[str | None]]:
    rng = random.Random(seed)
    gold = [rng.choice(LABELS[:3]) for _ in range(n)]  # "d" never gold: its F1 is 0 or from false positives
    predicted = [g if rng.random() < 0.6 else rng.choice([*LABELS, None]) for g in gold]
    return gold, predicted


def test_each_resample_scores_as_the_resampled_test_set_would():
    gold, predicted = _data(60, seed=1)
    draws = resampling(len(gold), seed=7, resamples=50)
    scores = resampled_scores(gold, predicted, LABELS, draws)
    for b in range(draws.resamples):
        repeated = [i for i, count in enumerate(draws.counts[b]) for _ in range(int(count))]
        direct = classification_scores([gold[i] for i in repeated], [predicted[i] for i in repeated], LABELS)
        assert scores["macro_f1"][b] == pytest.approx(direct["macro_f1"], abs=1e-12)
        assert scores["accuracy"][b] == pytest.approx(direct["accuracy"], abs=1e-12)


def test_the_unresampled_set_gives_the_plain_scores():
    gold, predicted = _data(40, seed=2)
    once = Resampling(np.ones((1, len(gold))), seed=0)
    direct = classification_scores(gold, predicted, LABELS)
    scores = resampled_scores(gold, predicted, LABELS, once)
    assert scores["macro_f1"][0] == pytest.approx(direct["macro_f1"])
    assert scores["accuracy"][0] == pytest.approx(direct["accuracy"])


def test_resampling_is_seeded_and_draws_every_row_to_the_test_size():
    first, again, other = resampling(30, seed=3), resampling(30, seed=3), resampling(30, seed=4)
    assert np.array_equal(first.counts, again.counts) and not np.array_equal(first.counts, other.counts)
    assert first.resamples == 1000 and set(first.counts.sum(axis=1)) == {30.0}


def test_interval_covers_the_central_95_percent():
    assert interval(np.arange(1001) / 1000) == [0.025, 0.975]


def test_a_better_student_is_called_better_and_a_coin_is_not_distinguishable():
    gold, _ = _data(200, seed=5)
    good = list(gold)
    good[:20] = [None] * 20  # 90% right
    bad = [g if i % 2 else "d" for i, g in enumerate(gold)]  # 50% right
    draws = resampling(len(gold), seed=0)
    difference = paired_difference(
        resampled_scores(gold, good, LABELS, draws), resampled_scores(gold, bad, LABELS, draws)
    )
    assert verdict(interval(difference)) == "better"
    assert verdict(interval(-difference)) == "worse"
    same = resampled_scores(gold, bad, LABELS, draws)
    assert verdict(interval(paired_difference(same, same))) == "not distinguishable"


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        resampled_scores(["a"], ["a", "b"], LABELS, resampling(1, seed=0))


def test_many_classifiers_at_once_score_as_each_alone():
    """The batched macro-F1 of an experiment's cells is each cell's `resampled_scores`, also across chunks."""
    gold, _ = _data(60, seed=3)
    predicted = [_data(60, seed=10 + i)[1] for i in range(5)] + [[None] * 60, list(gold), ["x"] * 60]
    draws = resampling(len(gold), seed=4, resamples=200)
    many = resampled_macro_f1(gold, predicted, LABELS, draws)
    assert many.shape == (8, 200)
    for row, p in zip(many, predicted, strict=True):
        np.testing.assert_allclose(row, resampled_scores(gold, p, LABELS, draws)["macro_f1"], rtol=0, atol=1e-12)
    long_gold, _ = _data(30_000, seed=5)  # 30,000 texts: a chunk holds 8 classifiers
    long_predicted = [_data(30_000, seed=20 + i)[1] for i in range(40)]
    few = resampling(len(long_gold), seed=6, resamples=3)
    chunked = resampled_macro_f1(long_gold, long_predicted, LABELS, few)
    for row, p in zip(chunked, long_predicted, strict=True):
        np.testing.assert_allclose(row, resampled_scores(long_gold, p, LABELS, few)["macro_f1"], rtol=0, atol=1e-12)
    with pytest.raises(ValueError):
        resampled_macro_f1(gold, [gold[:-1]], LABELS, draws)
