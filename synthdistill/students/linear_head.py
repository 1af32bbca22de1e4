"""A multinomial logistic-regression head kept as plain arrays: fit with scikit-learn, predict with numpy,
save as npz, so any student built on features loads without unpickling."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthdistill.errors import StudentError
from synthdistill.students.base import write_student


class LinearHead:
    def __init__(self, C: float = 1.0, seed: int = 0):  # noqa: N803 - scikit-learn's name
        self.C = C
        self.seed = seed
        self.classes: list[str] = []
        self.coef = np.zeros((0, 0))
        self.intercept = np.zeros(0)

    def fit(self, features: Any, labels: Sequence[str]) -> LinearHead:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed).fit(features, list(labels))
        self.classes = [str(c) for c in model.classes_]
        coef, intercept = model.coef_, model.intercept_
        if len(self.classes) == 2:  # binary: one weight row for the second class; store both sides
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef = coef.astype(np.float64)
        self.intercept = intercept.astype(np.float64)
        return self

    def predict_proba(self, features: Any) -> np.ndarray:
        logits = np.asarray(features @ self.coef.T) + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_arrays(cls, classes: list[str], arrays: Any, C: float, seed: int) -> LinearHead:  # noqa: N803
        head = cls(C=C, seed=seed)
        head.classes = list(classes)
        head.coef, head.intercept = np.asarray(arrays["coef"]), np.asarray(arrays["intercept"])
        return head


class LinearHeadStudent:
    """What students made of features plus a linear head share: prediction, and saving the head."""

    kind = "linear"
    format_version = 1
    head: LinearHead

    @property
    def classes(self) -> list[str]:
        return self.head.classes

    def _features(self, texts: Sequence[str]) -> Any:
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not self.classes:
            raise StudentError(f"the {self.kind} student is not trained")
        return self.head.predict_proba(self._features(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        return [self.classes[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def _save(self, directory: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        if not self.classes:
            raise StudentError("cannot save an untrained student")
        full_header = {"type": self.kind, "format_version": self.format_version, "classes": self.classes, **header}
        write_student(directory, full_header, {**arrays, **self.head.arrays()})
