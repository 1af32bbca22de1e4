import random

import pytest
from sklearn.metrics import accuracy_score, f1_score

from synthdistill.evaluation.scores import classification_scores

LABELS = ["a", "b", "c"]


@pytest.mark.parametrize("seed", range(5))
def test_matches_scikit_learn_with_invalid_answers(seed):
    rng = random.Random(seed)
    gold = [rng.choice(LABELS) for _ in range(60)]
    predicted = [rng.choice([*LABELS, None]) for _ in range(60)]
    scores = classification_scores(gold, predicted, LABELS)
    as_strings = [p if p is not None else "<invalid>" for p in predicted]
    assert scores["macro_f1"] == pytest.approx(
        f1_score(gold, as_strings, labels=LABELS, average="macro", zero_division=0)
    )
    assert scores["accuracy"] == pytest.approx(accuracy_score(gold, as_strings))
    per_label = f1_score(gold, as_strings, labels=LABELS, average=None, zero_division=0)
    assert [scores["per_label_f1"][label] for label in LABELS] == pytest.approx(list(per_label))
    assert scores["invalid_rate"] == pytest.approx(predicted.count(None) / 60)


def test_invalid_answers_are_wrong_not_a_class():
    scores = classification_scores(["a", "b"], [None, "b"], ["a", "b"])
    assert scores["accuracy"] == 0.5
    assert scores["per_label_f1"] == {"a": 0.0, "b": 1.0}
    assert set(scores["per_label_f1"]) == {"a", "b"}


def test_fixed_numbers():
    scores = classification_scores(["a", "a", "b", "c"], ["a", "b", "b", "c"], LABELS)
    # a: tp1 fn1 -> 2/3; b: tp1 fp1 -> 2/3; c: 1
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert scores["accuracy"] == 0.75 and scores["n_test"] == 4
