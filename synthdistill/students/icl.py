"""In-context learning student: a compact LLM classifies each text with k labelled examples per label in
its prompt, through any teacher backend (the paper: 2 synthetic examples per label, chosen at random; or
each text's nearest neighbours by sentence embeddings)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from synthdistill.config import IclStudentSpec, TaskSpec, TeacherSpec
from synthdistill.data import Example
from synthdistill.errors import StudentError
from synthdistill.evaluation.teacher_classifier import calibrate, classify_with_teacher, content_free_baseline
from synthdistill.students.base import check_training_set, read_student, write_student
from synthdistill.students.encoders import CachedEncoder, EmbeddingCache
from synthdistill.teachers import open_teacher

_TEACHER: TypeAdapter[Any] = TypeAdapter(TeacherSpec)  # the model's section, whichever backend it names


def _interleave(groups: list[list[Example]]) -> list[Example]:
    """Round-robin over the groups: a, b, c, a, b, c, ..."""
    longest = max((len(g) for g in groups), default=0)
    return [group[i] for i in range(longest) for group in groups if i < len(group)]


class InContextStudent:
    kind = "icl"
    format_version = 1

    def __init__(
        self,
        task: TaskSpec,
        model: TeacherSpec,
        language: str,
        spec: IclStudentSpec | None = None,
        *,
        seed: int = 0,
        cache_dir: str | Path | None = None,
    ):
        """`model`: the compact LLM that answers, as a teacher section; `spec`: the settings (their defaults live in
        the spec; its own `model` is ignored here: `from_options` chooses it)."""
        spec = spec or IclStudentSpec()
        self.task, self.model, self.language = task, model, language
        self.shots_per_label, self.selection, self.encoder_name = spec.shots_per_label, spec.selection, spec.encoder
        self.calibration = spec.calibration
        if self.calibration and model.prompt_mode != "completion":
            raise StudentError("icl calibration needs a completion-mode model (it divides label scores)")
        self.seed = seed
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.pool: list[Example] = []
        self._encoder: CachedEncoder | None = None
        self.predict_replayed_share = 0.0  # of the last prediction's requests, the share the request cache answered

    @classmethod
    def from_options(
        cls,
        spec: IclStudentSpec,
        *,
        task: TaskSpec,
        teacher: TeacherSpec,
        language: str,
        seed: int,
        workdir: Path,
        run_name: str | None = None,
    ) -> InContextStudent:
        """Built from a config: the student's own model, or the run's teacher when it names none."""
        return cls(task, spec.model or teacher, language, spec, seed=seed, cache_dir=workdir)

    @property
    def classes(self) -> list[str]:
        return self.task.label_names

    def fit(self, texts: Sequence[str], labels: Sequence[str], dev: object = None) -> InContextStudent:
        check_training_set(texts, labels, allowed=self.classes)
        self.pool = [Example(t, label, self.language) for t, label in zip(texts, labels, strict=True)]
        return self

    def _encoder_for_selection(self) -> CachedEncoder:
        if self._encoder is None:
            cache = EmbeddingCache(self.cache_dir / "embeddings.sqlite") if self.cache_dir else None
            self._encoder = CachedEncoder(self.encoder_name, cache)
        return self._encoder

    def _shots(self, texts: Sequence[str]) -> list[list[Example]]:
        """k examples per label for each text, labels interleaved (a block of one label last would pull
        a small model's answer towards it)."""
        by_label = {label: [e for e in self.pool if e.label == label] for label in self.classes}
        if self.selection == "random":
            rng = random.Random(self.seed)
            picked = [rng.sample(rows, min(self.shots_per_label, len(rows))) for rows in by_label.values()]
            return [_interleave(picked)] * len(texts)
        encode = self._encoder_for_selection()
        queries = encode(list(texts))
        vectors = {label: encode([e.text for e in rows]) for label, rows in by_label.items() if rows}
        chosen: list[list[Example]] = []
        for query in queries:
            picked = [
                [rows[i] for i in np.argsort(-(vectors[label] @ query))[: self.shots_per_label]]
                for label, rows in by_label.items()
                if rows
            ]
            chosen.append(_interleave(picked))
        return chosen

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Rows over `classes`; a row of zeros where the model's answer names no label."""
        if not self.pool:
            raise StudentError("the icl student is not trained")
        cache = self.cache_dir / "icl_cache.sqlite" if self.cache_dir else None
        teacher = open_teacher(self.model, cache, progress=False)
        shots = self._shots(texts)
        mode = self.model.prompt_mode
        try:
            predictions = classify_with_teacher(
                self.task, mode, teacher, self.language, list(texts), shots_per_text=shots
            )
            if self.calibration:  # one content-free baseline per distinct set of examples (random: one in all)
                baselines: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
                keys = [tuple((e.text, e.label) for e in text_shots) for text_shots in shots]
                for key, text_shots in zip(keys, shots, strict=True):
                    if key not in baselines:
                        baselines[key] = content_free_baseline(
                            self.task, mode, teacher, self.language, text_shots, "label_name"
                        )
                predictions = [calibrate(p, baselines[key]) for p, key in zip(predictions, keys, strict=True)]
        finally:
            teacher.close()
        self.predict_replayed_share = teacher.stats.cached / max(1, teacher.stats.cached + teacher.stats.sent)
        return np.array([[p.probabilities.get(label, 0.0) for label in self.classes] for p in predictions])

    def predict(self, texts: Sequence[str]) -> list[str | None]:  # type: ignore[override]
        """None where the answer names no label: it counts as wrong, never as a class."""
        if not texts:
            return []
        return [self.classes[int(row.argmax())] if row.any() else None for row in self.predict_proba(texts)]

    def save(self, directory: str | Path) -> None:
        if not self.pool:
            raise StudentError("cannot save an untrained student")
        header = {
            "type": self.kind, "format_version": self.format_version, "classes": self.classes,
            "task": self.task.model_dump(mode="json"), "model": _TEACHER.dump_python(self.model, mode="json"),
            "language": self.language, "shots_per_label": self.shots_per_label, "selection": self.selection,
            "encoder": self.encoder_name, "calibration": self.calibration, "seed": self.seed,
            "pool": [{"text": e.text, "label": e.label} for e in self.pool],
        }  # fmt: skip
        write_student(directory, header, {})

    @classmethod
    def load(cls, directory: str | Path) -> InContextStudent:
        header, _ = read_student(directory, cls.kind, cls.format_version)
        try:
            task, model = TaskSpec.model_validate(header["task"]), _TEACHER.validate_python(header["model"])
            spec = IclStudentSpec(
                shots_per_label=header["shots_per_label"],
                selection=header["selection"],
                encoder=header["encoder"],
                calibration=header.get("calibration", False),  # saved before calibration existed: without it
            )
        except ValidationError as err:
            raise StudentError(f"{directory}: the saved task or model is not valid: {err.errors()[0]['msg']}") from None
        student = cls(task, model, header["language"], spec, seed=header["seed"], cache_dir=directory)
        return student.fit([row["text"] for row in header["pool"]], [row["label"] for row in header["pool"]])
