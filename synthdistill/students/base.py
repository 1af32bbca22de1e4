"""The one face every student shows, and the file format every student saves in (JSON + npz, no pickle).

The registry that maps a config `type` to its class is in `registry`: it imports every student, and no
student imports it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from synthdistill.data import atomic_write_text
from synthdistill.errors import StudentError

if TYPE_CHECKING:
    from synthdistill.config import TaskSpec, TeacherSpec

STUDENT_FILE = "student.json"


@runtime_checkable
class Student(Protocol):
    classes: list[str]

    @classmethod
    def from_options(
        cls,
        spec: Any,
        *,
        task: TaskSpec,
        teacher: TeacherSpec,
        language: str,
        seed: int,
        workdir: Path,
        run_name: str | None = None,
    ) -> Student:
        """Built for one run from its config section `spec` (where its defaults live). `task` and `teacher`:
        the run's; `workdir`: where caches and checkpoints go (under `run_name`, default TYPE-LANGUAGE)."""
        ...

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], dev: tuple[Sequence[str], Sequence[str]] | None = None
    ) -> Student:
        """`dev`: human dev texts and labels, used by students that select an epoch; others ignore it."""
        ...

    def predict(self, texts: Sequence[str]) -> list[str]: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def save(self, directory: str | Path) -> None: ...

    @classmethod
    def load(cls, directory: str | Path) -> Student: ...


def replayed_share(student: Student) -> float:
    """The share of the student's last prediction answered from a cache (embeddings, model requests) rather
    than computed: a cell's prediction speed means nothing when a cache replayed it. Students that cache set
    `predict_replayed_share`; the others compute every prediction."""
    return float(getattr(student, "predict_replayed_share", 0.0))


def check_training_set(texts: Sequence[str], labels: Sequence[str], allowed: Sequence[str] | None = None) -> None:
    """The errors every student raises alike: empty set, mismatched lengths, one class, unknown label."""
    if len(texts) != len(labels):
        raise StudentError(f"{len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise StudentError("the training set is empty")
    if allowed is not None:
        unknown = sorted(set(labels) - set(allowed))
        if unknown:
            raise StudentError(f"labels not in the task: {', '.join(unknown)}")
    if len(set(labels)) < 2:
        raise StudentError(f"the training set has one class only ({labels[0]!r}); a classifier needs two or more")


def read_student_header(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / STUDENT_FILE
    if Path(directory).is_file():
        raise StudentError(f"{directory}: is a file; give the folder of a saved student (the one with {STUDENT_FILE})")
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudentError(f"{directory}: no saved student here ({STUDENT_FILE} missing)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StudentError(f"{path}: not a valid student file") from None
    if not isinstance(header, dict) or "type" not in header:
        raise StudentError(f"{path}: not a valid student file")
    return header


WEIGHTS_FILE = "weights.npz"


def write_student(directory: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """A saved student: student.json (type, format, settings, classes) and weights.npz; no pickle anywhere."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / WEIGHTS_FILE, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    atomic_write_text(directory / STUDENT_FILE, json.dumps(header, ensure_ascii=False))


def read_student(directory: str | Path, kind: str, version: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    header = read_student_header(directory)
    if header.get("type") != kind or header.get("format_version") != version:
        raise StudentError(f"{directory}: not a {kind} student of format {version}")
    try:
        with np.load(Path(directory) / WEIGHTS_FILE, allow_pickle=False) as loaded:
            arrays = {name: loaded[name] for name in loaded.files}
    except (OSError, ValueError) as err:
        raise StudentError(f"{directory}: cannot read {WEIGHTS_FILE}: {err}") from None
    return header, arrays


def probability_rows(classes: Sequence[str], probabilities: np.ndarray) -> list[dict[str, Any]]:
    """Label and probabilities per text; label None for an all-zero row: a student that answers in words
    (icl, lora generating) named no label."""
    return [
        {
            "label": classes[int(row.argmax())] if row.sum() > 0 else None,
            "probabilities": {label: float(p) for label, p in zip(classes, row, strict=True)},
        }
        for row in probabilities
    ]
