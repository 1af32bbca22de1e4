"""The teacher line of an experiment: the teacher's macro-F1 per (task, language), from a results file or by
running the teacher here as a classifier (its best setting chosen on dev, never on test)."""

from __future__ import annotations

from pathlib import Path

from synthdistill.config import Config, DataSpec, EvaluationSpec
from synthdistill.data import read_json_file, sample_per_label, write_examples
from synthdistill.errors import DataError
from synthdistill.evaluation.teacher_settings import BEST_TEACHER
from synthdistill.experiments.config import ExperimentConfig, ExperimentTaskSpec
from synthdistill.experiments.planning import cell_examples, experiment_teacher, task_spec


def teacher_config(experiment: ExperimentConfig, task: ExperimentTaskSpec, dev: str | None = None) -> Config:
    """The single-task run that scores the teacher: the experiment's languages, its test, human and dev files."""
    dev = dev or task.dev
    splits = {split: str(experiment.path(path)) for split, path in (("seed", task.human), ("dev", dev)) if path}
    reference = experiment.teacher
    return Config(
        task=task_spec(task, experiment.languages),
        teacher=experiment_teacher(experiment),
        data=DataSpec(test=str(experiment.path(task.test)), **splits),
        students=[],
        evaluation=reference.evaluation if reference else EvaluationSpec(),
    )


def _teacher_rows_from_file(experiment: ExperimentConfig, path: Path) -> dict[tuple[str, str], float]:
    """A results file: a JSON list of rows with task, language, macro_f1 (and classifier, when filtered)."""
    rows = read_json_file(path, "teacher results")
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of rows")
    wanted = experiment.teacher.classifier if experiment.teacher else None
    scores: dict[tuple[str, str], float] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not {"task", "language", "macro_f1"} <= row.keys():
            raise DataError(f"{path}: row {i}: needs task, language and macro_f1")
        if not isinstance(row["macro_f1"], int | float) or not 0 <= row["macro_f1"] <= 1:
            raise DataError(f"{path}: row {i}: macro_f1 must be a number from 0 to 1")
        if wanted is None or row.get("classifier") == wanted:
            scores.setdefault((row["task"], row["language"]), float(row["macro_f1"]))
    return scores


def teacher_line(experiment: ExperimentConfig, out: Path, progress: bool) -> tuple[dict[tuple[str, str], float], str]:
    """The teacher's macro-F1 per (task, language): from a results file, or by running a teacher here
    (its requests cached under teacher/, so a re-run is free); the best setting on dev when a dev split exists."""
    from synthdistill.pipeline import classify

    reference = experiment.teacher
    if reference is None:
        return {}, "no teacher line (teacher: null)"
    if reference.results:
        path = experiment.path(reference.results)
        return _teacher_rows_from_file(experiment, path), f"teacher scores from {path}"
    scores: dict[tuple[str, str], float] = {}
    model = ""
    drawn_dev = False
    for task in experiment.task_specs():
        folder = out / "teacher" / task.name
        dev = None
        if task.dev is None and reference.dev_per_class and task.human:
            dev = str(_draw_dev(experiment, task, folder, reference.dev_per_class))
            drawn_dev = True
        config = teacher_config(experiment, task, dev=dev)
        records = classify(config, folder, progress=progress)
        for language in experiment.languages:
            mine = [r for r in records if r.language == language]
            best = next((r for r in mine if r.classifier == BEST_TEACHER), mine[0])
            scores[(task.name, language)] = best.macro_f1
            model = best.model or model
        spec = config.teacher
    if drawn_dev:
        how = (
            f"its best setting chosen on a dev split of {reference.dev_per_class} human examples per label "
            "drawn from the training pool (never on test)"
        )
    elif any(t.dev for t in experiment.task_specs()):
        how = "its best setting chosen on the dev split"
    else:
        how = "its first setting (no dev split to choose on)"
    return scores, f"teacher `{model}` ({spec.backend} backend) run here on the test split, {how}"


def _draw_dev(experiment: ExperimentConfig, task: ExperimentTaskSpec, folder: Path, per_class: int) -> Path:
    """A dev split per language from the human pool, seeded; it only chooses the teacher's setting."""

    for language in experiment.languages:
        pool = cell_examples(str(experiment.file(task, "human", language)), tuple(task.labels), language)
        chosen = sample_per_label(pool, per_class, seed=experiment.seed)
        write_examples(
            folder / "dev" / f"{language}.jsonl", [e for label in task.labels for e in chosen.get(label, [])]
        )
    return folder / "dev" / "{lang}.jsonl"
