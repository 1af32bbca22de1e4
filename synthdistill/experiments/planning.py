"""Planning the grid: every cell (task, language, student, source, N, repeat) with the key that decides its result.

Each cell's key hashes what decides its result (the student's settings, the sample's seed and size, the data
files' contents), so a re-run skips finished cells and a changed config runs only the cells it adds or changes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from synthdistill.config import LabelSpec, TaskSpec, TeacherSpec
from synthdistill.data import Example, read_examples, sample_per_label
from synthdistill.errors import DataError
from synthdistill.experiments.config import ExperimentConfig, ExperimentTaskSpec

TEACHER_SPEC: TypeAdapter[Any] = TypeAdapter(TeacherSpec)  # a teacher section, whichever backend it names


def training_sample(pools: dict[str, list[Example]], source: str, per_class: int, seed: int) -> list[Example]:
    """Up to `per_class` examples of each label; `mixed` takes half (rounded up) from human data, the rest
    synthetic, both drawn with the same seed."""
    if source == "mixed":
        human = math.ceil(per_class / 2)
        parts = [
            sample_per_label(pools["human"], human, seed),
            sample_per_label(pools["synthetic"], per_class - human, seed),
        ]
    else:
        parts = [sample_per_label(pools[source], per_class, seed)]
    labels = list(dict.fromkeys(label for part in parts for label in part))
    return [example for label in labels for part in parts for example in part.get(label, [])]


def file_fingerprint(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found") from None


def task_spec(task: ExperimentTaskSpec, languages: Sequence[str]) -> TaskSpec:
    """The task as the pipeline and the students see it; an experiment's labels are their own descriptions."""
    return TaskSpec(
        name=task.name,
        domain=task.domain,
        text_kind=task.text_kind,
        label_kind=task.label_kind,
        labels=[LabelSpec(name=label, description=label) for label in task.labels],
        languages=list(languages),
    )


def experiment_teacher(experiment: ExperimentConfig) -> TeacherSpec:
    """The model the icl student asks by default: the experiment teacher's, else the embedded default."""
    reference = experiment.teacher
    if reference is not None and reference.model is not None:
        return reference.model
    return TEACHER_SPEC.validate_python({})


@dataclass(frozen=True)
class Cell:
    task: str
    language: str
    student: str
    source: str
    n: int
    repeat: int
    key: str
    payload: dict[str, Any] = field(compare=False, repr=False)


def plan_cells(experiment: ExperimentConfig, workdir: Path) -> list[Cell]:
    """Every cell of the grid, in a stable order; reads the data files' fingerprints, not the data."""
    cells = []
    fingerprints: dict[Path, str] = {}
    for task in experiment.task_specs():
        for language in experiment.languages:
            files = {split: experiment.file(task, split, language) for split in ("human", "synthetic", "test", "dev")}
            needed = {"test"} | {s for s in experiment.sources if s != "mixed"}
            needed |= {"human", "synthetic"} if "mixed" in experiment.sources else set()
            for split in needed:
                if files[split] is None:
                    raise DataError(f"task {task.name}: no `{split}` file given, and a source needs it")
            chosen = {s: files[s] for s in (*needed, "dev") if files[s] is not None}
            for path in chosen.values():
                if path not in fingerprints:
                    fingerprints[path] = file_fingerprint(path)
            cell_task = task_spec(task, [language])
            teacher = experiment_teacher(experiment)
            for spec in experiment.students:
                options = spec.model_dump(mode="json", exclude={"name", "train_on"})
                for source in experiment.sources:
                    for n, per_class in experiment.grid(len(task.labels)):
                        for repeat in range(experiment.repeats):
                            seed = experiment.seed + repeat
                            identity = {
                                "task": task.name, "language": language, "labels": task.labels,
                                "student": spec.identity_options(),
                                "source": source, "per_class": per_class, "seed": seed,
                                "data": {split: fingerprints[path] for split, path in sorted(chosen.items())},
                            }  # fmt: skip
                            key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
                            payload = {
                                "key": key, "task": task.name, "language": language, "labels": task.labels,
                                "student": spec.display_name, "options": options, "source": source, "n": n,
                                "per_class": per_class, "repeat": repeat, "seed": seed, "workdir": str(workdir),
                                "bootstrap_seed": experiment.seed,  # one resampling of test texts for all repeats
                                "files": {split: str(path) for split, path in chosen.items()},
                                "task_spec": cell_task.model_dump(mode="json"),
                                "teacher": TEACHER_SPEC.dump_python(teacher, mode="json"),
                            }  # fmt: skip
                            cells.append(Cell(task.name, language, spec.display_name, source, n, repeat, key, payload))
    return cells


@cache
def cell_examples(path: str, labels: tuple[str, ...], language: str) -> list[Example]:
    """The file's rows in this language: a file whose rows carry `language` may hold several."""
    rows = [e for e in read_examples(path, labels, language=language) if e.language == language]
    if not rows:
        raise DataError(f"{path}: no rows in language {language}")
    return rows
