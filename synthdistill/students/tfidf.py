"""The fast baseline: character n-gram TF-IDF and logistic regression, saved as JSON + npz (no pickle)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthdistill.data import atomic_write_text
from synthdistill.errors import StudentError
from synthdistill.students.base import STUDENT_FILE, check_training_set, read_student_header

_WEIGHTS_FILE = "weights.npz"
_FORMAT_VERSION = 1


class TfidfStudent:
    def __init__(
        self,
        analyzer: str = "char_wb",
        ngram_range: tuple[int, int] = (2, 5),
        max_features: int | None = 200_000,
        C: float = 10.0,  # noqa: N803 - scikit-learn's name
        seed: int = 0,
    ):
        self.params: dict[str, Any] = {
            "analyzer": analyzer,
            "ngram_range": list(ngram_range),
            "max_features": max_features,
            "C": C,
            "seed": seed,
        }
        self.classes: list[str] = []
        self._vocabulary: dict[str, int] = {}
        self._idf = np.zeros(0)
        self._coef = np.zeros((0, 0))
        self._intercept = np.zeros(0)
        self._vectorizer: Any = None

    def _count_vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(
            analyzer=self.params["analyzer"],
            ngram_range=tuple(self.params["ngram_range"]),
            max_features=self.params["max_features"] if vocabulary is None else None,
            vocabulary=vocabulary,
            lowercase=True,
        )

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TfidfStudent:
        check_training_set(texts, labels)
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.linear_model import LogisticRegression

        counts_vectorizer = self._count_vectorizer()
        counts = counts_vectorizer.fit_transform(list(texts))
        transformer = TfidfTransformer(sublinear_tf=True)
        features = transformer.fit_transform(counts)
        model = LogisticRegression(C=self.params["C"], max_iter=2000, random_state=self.params["seed"])
        model.fit(features, list(labels))
        self.classes = [str(c) for c in model.classes_]
        self._vocabulary = {term: int(i) for term, i in counts_vectorizer.vocabulary_.items()}
        self._idf = transformer.idf_.astype(np.float64)
        coef, intercept = model.coef_, model.intercept_
        if len(self.classes) == 2:  # binary: one weight row for the second class; store both sides
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self._coef = coef.astype(np.float64)
        self._intercept = intercept.astype(np.float64)
        self._vectorizer = counts_vectorizer
        return self

    def _features(self, texts: Sequence[str]) -> Any:
        if not self.classes:
            raise StudentError("the tfidf student is not trained")
        if self._vectorizer is None:
            self._vectorizer = self._count_vectorizer(self._vocabulary)
        counts = self._vectorizer.transform(list(texts)).astype(np.float64)
        counts.data = np.log(counts.data) + 1.0  # sublinear tf, as in training
        weighted = counts.multiply(self._idf).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return weighted.multiply(1.0 / norms[:, None]).tocsr()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        logits = self._features(texts) @ self._coef.T + self._intercept
        logits = np.asarray(logits)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        return [self.classes[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def save(self, directory: str | Path) -> None:
        if not self.classes:
            raise StudentError("cannot save an untrained student")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / _WEIGHTS_FILE, "wb") as handle:
            np.savez_compressed(handle, idf=self._idf, coef=self._coef, intercept=self._intercept)
        header = {
            "type": "tfidf",
            "format_version": _FORMAT_VERSION,
            "params": self.params,
            "classes": self.classes,
            "vocabulary": self._vocabulary,
        }
        atomic_write_text(directory / STUDENT_FILE, json.dumps(header, ensure_ascii=False))

    @classmethod
    def load(cls, directory: str | Path) -> TfidfStudent:
        header = read_student_header(directory)
        if header.get("type") != "tfidf" or header.get("format_version") != _FORMAT_VERSION:
            raise StudentError(f"{directory}: not a tfidf student of format {_FORMAT_VERSION}")
        params = header["params"]
        student = cls(
            analyzer=params["analyzer"],
            ngram_range=tuple(params["ngram_range"]),
            max_features=params["max_features"],
            C=params["C"],
            seed=params["seed"],
        )
        try:
            with np.load(Path(directory) / _WEIGHTS_FILE, allow_pickle=False) as arrays:
                student._idf, student._coef, student._intercept = (
                    arrays["idf"],
                    arrays["coef"],
                    arrays["intercept"],
                )
        except (OSError, KeyError, ValueError) as err:
            raise StudentError(f"{directory}: cannot read {_WEIGHTS_FILE}: {err}") from None
        student.classes = list(header["classes"])
        student._vocabulary = {str(k): int(v) for k, v in header["vocabulary"].items()}
        return student
