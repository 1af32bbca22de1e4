"""The teacher line of an experiment: the teacher's macro-F1 per (task, language), from a results file or by
running the teacher here as a classifier (its best setting chosen on dev, never on test)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synthdistill.config import Config, DataSpec, EvaluationSpec
from synthdistill.data import read_json_file, sample_per_label, write_examples
from synthdistill.errors import DataError
from synthdistill.evaluation.teacher_settings import BEST_TEACHER
from synthdistill.experiments.config import ExperimentConfig, ExperimentTaskSpec
from synthdistill.experiments.planning import cell_examples, experiment_teacher, task_spec


@dataclass(frozen=True)
class TeacherPredictions:
    """The test predictions behind one (task, language) point of the teacher line, with the gold labels they
    were scored against."""

    setting: str
    gold: list[str]
    predicted: list[str | None]


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
        # as the config names it (relative to the experiment file): an absolute path of this machine is no
        # use in a committed report
        return _teacher_rows_from_file(experiment, path), f"teacher scores from {reference.results}"
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
    # absolute: the config resolves a relative path from the experiment file's folder, not from --out's
    return folder.resolve() / "dev" / "{lang}.jsonl"


def teacher_predictions(experiment: ExperimentConfig, out: Path) -> dict[tuple[str, str], TeacherPredictions]:
    """Per (task, language), the teacher's test predictions in the setting its line uses (best on dev, else the
    first), so students can be compared with it text by text; none for a line read from a results file (scores
    only) or a folder where the teacher's predictions are missing."""
    from synthdistill.pipeline import TEACHER_PREDICTIONS_FILE, TEACHER_RESULTS_FILE

    reference = experiment.teacher
    if reference is None or reference.results:
        return {}
    found: dict[tuple[str, str], TeacherPredictions] = {}
    for task in experiment.task_specs():
        folder = out / "teacher" / task.name
        if not (folder / TEACHER_RESULTS_FILE).is_file() or not (folder / TEACHER_PREDICTIONS_FILE).is_file():
            continue
        records = read_json_file(folder / TEACHER_RESULTS_FILE, "teacher results")
        settings: dict[str, str] = {}
        for language in experiment.languages:
            mine = [r for r in records if r.get("language") == language]
            if mine:  # the record `teacher_line` takes, and the setting whose predictions it scored
                best = next((r for r in mine if r.get("classifier") == BEST_TEACHER), mine[0])
                settings[language] = best.get("setting") or best["classifier"]
        rows: dict[str, tuple[list[str], list[str | None]]] = {}
        path = folder / TEACHER_PREDICTIONS_FILE
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    row = json.loads(line)
                    language, classifier = row["language"], row["classifier"]
                    gold, predicted = row["gold"], row["predicted"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise DataError(f"{path}: line {number}: not a teacher prediction") from None
                if settings.get(language) == classifier:
                    golds, predictions = rows.setdefault(language, ([], []))
                    golds.append(gold)
                    predictions.append(predicted)
        for language, (golds, predictions) in rows.items():
            found[(task.name, language)] = TeacherPredictions(settings[language], golds, predictions)
    return found
