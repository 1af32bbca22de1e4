"""Frozen sentence embeddings plus logistic regression: the paper's cheapest strong student.

Embeddings are cached per text (in memory, and on disk when given a cache path), so training on many
subsets of the same data embeds each text once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthdistill.config import EmbedStudentSpec, TaskSpec, TeacherSpec
from synthdistill.students.base import check_training_set, read_student
from synthdistill.students.encoders import CachedEncoder, EmbeddingCache
from synthdistill.students.linear_head import LinearHead, LinearHeadStudent


class EmbeddingStudent(LinearHeadStudent):
    kind = "embed"

    def __init__(self, spec: EmbedStudentSpec | None = None, *, seed: int = 0, cache_path: str | Path | None = None):
        """`spec`: the settings (their defaults live in the spec); `cache_path`: an SQLite file of embeddings."""
        spec = spec or EmbedStudentSpec()
        self.encoder_name = spec.encoder
        self.head = LinearHead(C=spec.C, seed=seed)
        self.encoder = CachedEncoder(spec.encoder, EmbeddingCache(cache_path) if cache_path else None)

    @classmethod
    def from_options(
        cls,
        spec: EmbedStudentSpec,
        *,
        task: TaskSpec,
        teacher: TeacherSpec,
        language: str,
        seed: int,
        workdir: Path,
        run_name: str | None = None,
    ) -> EmbeddingStudent:
        """Built from a config; embeddings are cached in the working folder."""
        return cls(spec, seed=seed, cache_path=workdir / "embeddings.sqlite")

    def fit(self, texts: Sequence[str], labels: Sequence[str], dev: object = None) -> EmbeddingStudent:
        check_training_set(texts, labels)
        self.head.fit(self.encoder(list(texts)), labels)
        return self

    def _features(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder(list(texts))

    @property
    def predict_replayed_share(self) -> float:
        """Of the last texts embedded, the share found in the embedding cache (see `base.replayed_share`)."""
        return self.encoder.last_reused_share

    def save(self, directory: str | Path) -> None:
        self._save(directory, {"encoder": self.encoder_name, "params": {"C": self.head.C, "seed": self.head.seed}}, {})

    @classmethod
    def load(cls, directory: str | Path) -> EmbeddingStudent:
        header, arrays = read_student(directory, cls.kind, cls.format_version)
        params = header["params"]
        student = cls(EmbedStudentSpec(encoder=header["encoder"], C=params["C"]), seed=params["seed"])
        student.head = LinearHead.from_arrays(header["classes"], arrays, params["C"], params["seed"])
        return student
