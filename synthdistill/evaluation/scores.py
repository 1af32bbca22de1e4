"""Scores on human-labelled data: macro-F1 over the task's labels, accuracy, per-label F1, invalid rate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def classification_scores(
    gold: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str]
) -> dict[str, Any]:
    """Invalid answers (None) count as wrong for their gold label and never as a class of their own."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    per_label: dict[str, float] = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        denominator = 2 * tp + fp + fn
        per_label[label] = 2 * tp / denominator if denominator else 0.0
    n = len(gold)
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    invalid = sum(1 for p in predicted if p is None)
    return {
        "macro_f1": sum(per_label.values()) / len(per_label) if per_label else 0.0,
        "accuracy": correct / n if n else 0.0,
        "invalid_rate": invalid / n if n else 0.0,
        "per_label_f1": per_label,
        "n_test": n,
    }
