"""The fast baseline: character n-gram TF-IDF and logistic regression, saved as JSON + npz (no pickle)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthdistill.config import TaskSpec, TeacherSpec, TfidfStudentSpec
from synthdistill.students.base import check_training_set, read_student
from synthdistill.students.linear_head import LinearHead, LinearHeadStudent


class TfidfStudent(LinearHeadStudent):
    kind = "tfidf"

    def __init__(self, spec: TfidfStudentSpec | None = None, *, seed: int = 0):
        """`spec`: the settings (their defaults live in the spec)."""
        spec = spec or TfidfStudentSpec()
        self.params: dict[str, Any] = {
            "analyzer": spec.analyzer,
            "ngram_range": list(spec.ngram_range),
            "max_features": spec.max_features,
            "C": spec.C,
            "seed": seed,
        }
        self.head = LinearHead(C=spec.C, seed=seed)
        self._vocabulary: dict[str, int] = {}
        self._idf = np.zeros(0)
        self._vectorizer: Any = None

    @classmethod
    def from_options(
        cls,
        spec: TfidfStudentSpec,
        *,
        task: TaskSpec,
        teacher: TeacherSpec,
        language: str,
        seed: int,
        workdir: Path,
        run_name: str | None = None,
    ) -> TfidfStudent:
        """Built from a config (no working files needed)."""
        return cls(spec, seed=seed)

    def _count_vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(
            analyzer=self.params["analyzer"],
            ngram_range=tuple(self.params["ngram_range"]),
            max_features=self.params["max_features"] if vocabulary is None else None,
            vocabulary=vocabulary,
            lowercase=True,
        )

    def fit(self, texts: Sequence[str], labels: Sequence[str], dev: object = None) -> TfidfStudent:
        check_training_set(texts, labels)
        from sklearn.feature_extraction.text import TfidfTransformer

        counts_vectorizer = self._count_vectorizer()
        counts = counts_vectorizer.fit_transform(list(texts))
        transformer = TfidfTransformer(sublinear_tf=True)
        self.head.fit(transformer.fit_transform(counts), labels)
        self._vocabulary = {term: int(i) for term, i in counts_vectorizer.vocabulary_.items()}
        self._idf = transformer.idf_.astype(np.float64)
        self._vectorizer = counts_vectorizer
        return self

    def _features(self, texts: Sequence[str]) -> Any:
        if self._vectorizer is None:
            self._vectorizer = self._count_vectorizer(self._vocabulary)
        counts = self._vectorizer.transform(list(texts)).astype(np.float64)
        counts.data = np.log(counts.data) + 1.0  # sublinear tf, as in training
        weighted = counts.multiply(self._idf).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return weighted.multiply(1.0 / norms[:, None]).tocsr()

    def save(self, directory: str | Path) -> None:
        self._save(directory, {"params": self.params, "vocabulary": self._vocabulary}, {"idf": self._idf})

    @classmethod
    def load(cls, directory: str | Path) -> TfidfStudent:
        header, arrays = read_student(directory, cls.kind, cls.format_version)
        params = header["params"]
        spec = TfidfStudentSpec(
            analyzer=params["analyzer"],
            ngram_range=tuple(params["ngram_range"]),
            max_features=params["max_features"],
            C=params["C"],
        )
        student = cls(spec, seed=params["seed"])
        student._idf = arrays["idf"]
        student.head = LinearHead.from_arrays(header["classes"], arrays, params["C"], params["seed"])
        student._vocabulary = {str(k): int(v) for k, v in header["vocabulary"].items()}
        return student
