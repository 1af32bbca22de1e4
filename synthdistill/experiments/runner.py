"""The experiment runner: every cell of the grid (task, language, student, source, N, repeat) trains one student
on a class-balanced sample and scores it on the human test split; the teacher's score is the reference line.

Cells are planned in `planning` (a re-run skips finished cells by their keys) and the teacher line comes from
`teacher_line`.

Output folder: experiment.yaml, results.sqlite (the store), cells.jsonl, teacher/ (the teacher run here, with
its request cache), work/ (embedding and request caches shared by cells), results.json (curves, crossovers),
report.md, report.html, plots/.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from synthdistill.config import StudentSpec, TaskSpec
from synthdistill.data import atomic_write_text, write_jsonl
from synthdistill.errors import SynthdistillError
from synthdistill.evaluation.scores import classification_scores
from synthdistill.experiments.config import ExperimentConfig
from synthdistill.experiments.curves import (
    ALL_LANGUAGES,
    Crossover,
    CurvePoint,
    crossovers,
    curve_points,
    group_languages,
    group_scores,
    group_teacher,
)
from synthdistill.experiments.executors import Executor, LocalExecutor
from synthdistill.experiments.planning import TEACHER_SPEC, cell_examples, plan_cells, training_sample
from synthdistill.experiments.teacher_line import teacher_line
from synthdistill.progress import progress as progress_bar

STORE_FILE = "results.sqlite"
LOW_RESOURCE, OTHER = "low-resource", "other"
STUDENT_SPEC: TypeAdapter[Any] = TypeAdapter(StudentSpec)


def run_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Train one student on one sample and score it on the test split (runs in a worker process)."""
    from synthdistill.students.registry import student_registry

    labels, language = tuple(payload["labels"]), payload["language"]
    files = payload["files"]
    pools = {split: cell_examples(files[split], labels, language) for split in ("human", "synthetic") if split in files}
    rows = training_sample(pools, payload["source"], payload["per_class"], payload["seed"])
    test = cell_examples(files["test"], labels, language)
    dev_rows = cell_examples(files["dev"], labels, language) if "dev" in files else None
    workdir = Path(payload["workdir"])
    run_name = f"cell-{payload['key'][:16]}"
    spec = STUDENT_SPEC.validate_python(payload["options"])
    student = student_registry()[spec.type].from_options(
        spec, task=TaskSpec.model_validate(payload["task_spec"]),
        teacher=TEACHER_SPEC.validate_python(payload["teacher"]), language=language, seed=payload["seed"],
        workdir=workdir, run_name=run_name,
    )  # fmt: skip
    started = time.perf_counter()
    dev = ([e.text for e in dev_rows], [e.label for e in dev_rows]) if dev_rows else None
    student.fit([e.text for e in rows], [e.label for e in rows], dev=dev)
    fitted = time.perf_counter()
    predicted = student.predict([e.text for e in test])
    scores = classification_scores([e.label for e in test], predicted, list(labels))
    shutil.rmtree(workdir / "checkpoints" / run_name, ignore_errors=True)  # a finished cell's checkpoints
    return {
        "task": payload["task"], "language": language, "student": payload["student"], "source": payload["source"],
        "n": payload["n"], "per_class": payload["per_class"], "repeat": payload["repeat"], "seed": payload["seed"],
        "n_train": len(rows), "n_test": len(test), "macro_f1": scores["macro_f1"], "accuracy": scores["accuracy"],
        "invalid_rate": scores["invalid_rate"], "fit_seconds": round(fitted - started, 3),
        "predict_seconds": round(time.perf_counter() - fitted, 3),
    }  # fmt: skip


@dataclass
class ExperimentSummary:
    rows: list[dict[str, Any]]
    points: list[CurvePoint]
    crossovers: list[Crossover]
    teacher: dict[tuple[str, str], float]
    teacher_origin: str
    ran: int
    skipped: int
    files: dict[str, Path] = field(default_factory=dict)


def language_groups(experiment: ExperimentConfig) -> dict[str, list[str]]:
    low = [lang for lang in experiment.languages if lang in experiment.low_resource]
    other = [lang for lang in experiment.languages if lang not in experiment.low_resource]
    groups = {LOW_RESOURCE: low, OTHER: other, ALL_LANGUAGES: list(experiment.languages)}
    return {name: members for name, members in groups.items() if members}


def summarise(
    experiment: ExperimentConfig, rows: Sequence[dict[str, Any]], teacher: dict[tuple[str, str], float]
) -> tuple[list[CurvePoint], list[Crossover], dict[tuple[str, str], float]]:
    """Curves per language and per language group, and each curve's crossover against its teacher line."""
    curves = group_scores(rows)
    groups = language_groups(experiment)
    all_curves = {**curves, **group_languages(curves, groups)}
    all_teacher = {**teacher, **group_teacher(teacher, groups)}
    return curve_points(all_curves), crossovers(all_curves, all_teacher), all_teacher


def run_experiment(
    experiment: ExperimentConfig, out: str | Path, *, executor: Executor | None = None, progress: bool = True
) -> ExperimentSummary:
    """Run the cells the store lacks, then the teacher line, the statistics and the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "experiment.yaml", yaml.safe_dump(experiment.model_dump(mode="json"), sort_keys=False))
    workdir = out / "work"
    cells = plan_cells(experiment, workdir)
    executor = executor or LocalExecutor()
    from synthdistill.experiments.store import ResultStore

    store = ResultStore(out / STORE_FILE)
    try:
        done = store.done(c.key for c in cells)
        todo = [c for c in cells if c.key not in done]
        bar = progress_bar(len(todo), f"cells ({executor.name})", unit="cell", enabled=progress)
        try:
            for index, row in executor.map_unordered(run_cell, [c.payload for c in todo]):
                store.put(todo[index].key, "cell", row)
                bar.set_postfix_str(f"{row['language']} {row['student']} {row['source']} N={row['n']}")
                bar.update()
        except SynthdistillError as err:
            raise type(err)(f"experiment cell failed: {err}") from None
        finally:
            bar.close()
        found = store.rows(c.key for c in cells)
    finally:
        store.close()
    rows = [found[c.key] for c in cells]
    write_jsonl(out / "cells.jsonl", rows)
    teacher, origin = teacher_line(experiment, out, progress)
    points, crossing, all_teacher = summarise(experiment, rows, teacher)
    summary = ExperimentSummary(rows, points, crossing, all_teacher, origin, ran=len(todo), skipped=len(done))
    summary.files = write_experiment_outputs(experiment, out, summary)
    return summary


def _grid_note(experiment: ExperimentConfig) -> str:
    if experiment.per_class_sizes is not None:
        return f"{experiment.per_class_sizes} training samples per class (N = that x classes)"
    return f"N = {experiment.sizes} training samples in total (class-balanced, max(2, N // classes) per class)"


def write_experiment_outputs(experiment: ExperimentConfig, out: Path, summary: ExperimentSummary) -> dict[str, Path]:
    from synthdistill.experiments.report import write_experiment_report

    results = {
        "name": experiment.name,
        "teacher_origin": summary.teacher_origin,
        "teacher": [{"task": t, "language": lang, "macro_f1": s} for (t, lang), s in summary.teacher.items()],
        "points": [p.to_dict() for p in summary.points],
        "crossovers": [c.to_dict() for c in summary.crossovers],
    }
    atomic_write_text(out / "results.json", json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    notes = [
        f"Grid: tasks {', '.join(t.name for t in experiment.task_specs())}; {_grid_note(experiment)}; "
        f"sources {', '.join(experiment.sources)}; "
        f"{experiment.repeats} repeats with seeds {experiment.seed} to {experiment.seed + experiment.repeats - 1}.",
        f"Teacher line: {summary.teacher_origin}.",
        "Scores: macro-F1 on the full human-labelled test split; bands and intervals are 95% (t-interval of the mean "
        "over repeats; crossover N: bootstrap over repeats).",
        f"Language groups: low-resource = {', '.join(language_groups(experiment).get(LOW_RESOURCE, [])) or 'none'}.",
    ]
    files = write_experiment_report(
        out, title=f"synthdistill experiment: {experiment.name}", points=summary.points, teacher=summary.teacher,
        crossovers=summary.crossovers, languages=experiment.languages,
        groups=language_groups(experiment), notes=notes,
    )  # fmt: skip
    return {"results": out / "results.json", **files}
