"""Planning the grid: every cell (task, language, student, source, N, repeat) with the key that decides its result.

Each cell's key hashes what decides its result (the student's settings, the sample's seed and size, the data
files' contents), so a re-run skips finished cells and a changed config runs only the cells it adds or changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from synthdistill.config import LabelSpec, StudentSpec, TaskSpec, TeacherSpec
from synthdistill.data import Example, data_fingerprint, read_examples, sample_per_label
from synthdistill.errors import DataError
from synthdistill.experiments.config import (
    POOLS,
    ExperimentConfig,
    ExperimentTaskSpec,
    pivot_language,
    source_parts,
)
from synthdistill.sources import written

TEACHER_SPEC: TypeAdapter[Any] = TypeAdapter(TeacherSpec)  # a teacher section, whichever backend it names


def training_sample(pools: dict[str, list[Example]], source: str, per_class: int, seed: int) -> list[Example]:
    """Up to `per_class` examples of each label, shared equally among the source's parts (the first parts get one
    more when it does not divide: `mixed` takes half, rounded up, from human data), all drawn with the same seed."""
    parts = source_parts(source)
    shares = [per_class // len(parts) + (1 if i < per_class % len(parts) else 0) for i in range(len(parts))]
    drawn = [sample_per_label(pools[part], share, seed) for part, share in zip(parts, shares, strict=True) if share]
    labels = list(dict.fromkeys(label for part in drawn for label in part))
    return [example for label in labels for part in drawn for example in part.get(label, [])]


def part_file(experiment: ExperimentConfig, task: ExperimentTaskSpec, part: str, language: str) -> Path | None:
    """The file a source's part draws on for one target language: pivot:LANG reads LANG's synthetic file."""
    pivot = pivot_language(part)
    return experiment.file(task, "synthetic", pivot) if pivot else experiment.file(task, part, language)


def skipped_combinations(experiment: ExperimentConfig) -> list[str]:
    """Students and sources the grid leaves out, each with the reason: a student that cannot carry one language
    to another never trains on a pivot language's text."""
    skipped = []
    for spec in experiment.students:
        for source in experiment.sources:
            pivots = sorted({p for p in map(pivot_language, source_parts(source)) if p})
            if pivots and not spec.crosses_languages:
                skipped.append(
                    f"{spec.display_name} on {source}: run for {', '.join(pivots)} only; a {spec.type} student learns "
                    "the surface of one language and cannot learn another language from its text"
                )
    return skipped


def _crosses(spec: StudentSpec, source: str, language: str) -> bool:
    """Whether `spec` may train on `source` for `language`: any pivot part in another language needs a student
    that carries languages across."""
    pivots = {pivot_language(part) for part in source_parts(source)} - {None, language}
    return spec.crosses_languages or not pivots


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
            files: dict[str, Path] = {}
            for split in ("test", "dev"):
                found = experiment.file(task, split, language)
                if found is not None:
                    files[split] = found
            for source in experiment.sources:
                for part in source_parts(source):
                    found = part_file(experiment, task, part, language)
                    if found is None:
                        split = "synthetic" if pivot_language(part) else part
                        raise DataError(f"task {task.name}: no `{split}` file given, and source {source} needs it")
                    files[part] = found
            if "test" not in files:
                raise DataError(f"task {task.name}: no `test` file given")
            for path in files.values():
                if path not in fingerprints:
                    fingerprints[path] = data_fingerprint(path)
            # Every cell's key covers the target language's pools that any source reads (as keys always have),
            # and a pivot pool only in the keys of the cells that read it: adding a pivot source keeps the rest.
            pools = sorted({part for source in experiment.sources for part in source_parts(source)} & set(POOLS))
            cell_task = task_spec(task, [language])
            teacher = experiment_teacher(experiment)
            for spec in experiment.students:
                options = spec.model_dump(mode="json", exclude={"name", "train_on"})
                for source in (s for s in experiment.sources if _crosses(spec, s, language)):
                    pivots = [part for part in source_parts(source) if pivot_language(part)]
                    chosen = {split: files[split] for split in ("test", "dev", *pools, *pivots) if split in files}
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
    """The file's rows written in this language: a file whose rows carry `language` may hold several (a run's
    synthetic.jsonl), and its translations of pivot samples are not the teacher's writing in the language."""
    rows = [e for e in read_examples(path, labels, language=language) if e.language == language and written(e)]
    if not rows:
        raise DataError(f"{path}: no rows in language {language}")
    return rows
