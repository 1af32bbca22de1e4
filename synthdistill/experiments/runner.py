"""The experiment runner: every cell of the grid (task, language, student, source, N, repeat) trains one student
on a class-balanced sample and scores it on the human test split; the teacher's score is the reference line.

Cells are planned in `planning` (a re-run skips finished cells by their keys) and the teacher line comes from
`teacher_line`.

Output folder: experiment.yaml, results.sqlite (the store), cells.jsonl, teacher/ (the teacher run here, with
its request cache), work/ (embedding and request caches shared by cells), results.json (curves, crossovers),
report.md, report.html, plots/; failures.log when cells failed.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import TypeAdapter

from synthdistill import peak_memory
from synthdistill.config import StudentSpec, TaskSpec
from synthdistill.data import atomic_write_text, write_jsonl
from synthdistill.errors import DataError, SynthdistillError
from synthdistill.evaluation.intervals import (
    RESAMPLES,
    interval,
    language_resampling,
    resampled_macro_f1,
    resampled_scores,
)
from synthdistill.evaluation.scores import classification_scores
from synthdistill.experiments.config import ExperimentConfig, ExperimentTaskSpec, pivot_language, source_parts
from synthdistill.experiments.curves import (
    ALL_LANGUAGES,
    Crossover,
    CurvePoint,
    curves_statistics,
    group_languages,
    group_scores,
    group_teacher,
)
from synthdistill.experiments.executors import Executor, LocalExecutor
from synthdistill.experiments.planning import (
    TEACHER_SPEC,
    Cell,
    cell_examples,
    plan_cells,
    skipped_combinations,
    training_sample,
)
from synthdistill.experiments.store import ResultStore
from synthdistill.experiments.teacher_line import TeacherPredictions, teacher_line, teacher_predictions
from synthdistill.progress import progress as progress_bar
from synthdistill.students.base import replayed_share

STORE_FILE = "results.sqlite"
FAILURES_FILE = "failures.log"
LOW_RESOURCE, OTHER = "low-resource", "other"
STUDENT_SPEC: TypeAdapter[Any] = TypeAdapter(StudentSpec)


_cells_run_here = itertools.count()  # this process's cells so far: only a process's first has a clean peak


def run_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Train one student on one sample and score it on the test split (runs in a worker process)."""
    from synthdistill.students.registry import student_registry

    cells_before = next(_cells_run_here)
    labels, language = tuple(payload["labels"]), payload["language"]
    files = payload["files"]
    pools = {
        part: cell_examples(files[part], labels, pivot_language(part) or language)
        for part in source_parts(payload["source"])
    }
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
    measured = peak_memory.reset_peak()  # this cell's peak, not the worker's since it started
    started = time.perf_counter()
    dev = ([e.text for e in dev_rows], [e.label for e in dev_rows]) if dev_rows else None
    student.fit([e.text for e in rows], [e.label for e in rows], dev=dev)
    fitted = time.perf_counter()
    predicted = student.predict([e.text for e in test])
    gold = [e.label for e in test]
    scores = classification_scores(gold, predicted, list(labels))
    # The experiment's seed, not the repeat's: every repeat and the teacher are scored on the same resampled texts.
    draws = language_resampling(len(test), seed=payload["bootstrap_seed"], language=language)
    index = {label: i for i, label in enumerate(labels)}
    shutil.rmtree(workdir / "checkpoints" / run_name, ignore_errors=True)  # a finished cell's checkpoints
    return {
        "task": payload["task"], "language": language, "student": payload["student"], "source": payload["source"],
        "n": payload["n"], "per_class": payload["per_class"], "repeat": payload["repeat"], "seed": payload["seed"],
        "n_train": len(rows), "n_test": len(test), "macro_f1": scores["macro_f1"], "accuracy": scores["accuracy"],
        "invalid_rate": scores["invalid_rate"],
        "macro_f1_ci": interval(resampled_scores(gold, predicted, labels, draws)["macro_f1"]),
        "predicted": [index.get(p, -1) if p is not None else -1 for p in predicted],
        "fit_seconds": round(fitted - started, 3), "predict_seconds": round(time.perf_counter() - fitted, 3),
        "predict_replayed_share": round(replayed_share(student), 3),
        "peak_rss_mb": peak_memory.peak_mb() if measured else None, "process_cells_before": cells_before,
    }  # fmt: skip


def run_cell_or_failure(payload: dict[str, Any]) -> dict[str, Any]:
    """`{"row": ...}`, or `{"error", "traceback"}` for a cell that raised: one failing cell (a model that cannot
    load, a backbone that runs out of memory) must not throw away the hours the grid's other cells take."""
    try:
        return {"row": run_cell(payload)}
    except Exception as err:  # reported by the driver with the cell it belongs to; Ctrl-C still stops everything
        return {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}


class CellFailures:
    """The cells of this run that failed: a line on stderr for each as it happens, every traceback in
    OUT/failures.log (this run's only: rewritten at a run's first failure, removed by a run without any), and
    one error at the end, once every other cell is stored, so running the same command again retries just these."""

    def __init__(self, path: Path):
        self.path = path
        self.described: list[str] = []

    def add(self, payload: dict[str, Any], error: str, trace: str) -> None:
        cell = (
            f"{payload['task']} {payload['language']} {payload['student']} on {payload['source']}, "
            f"N={payload['n']}, repeat {payload['repeat']}"
        )
        mode = "a" if self.described else "w"
        with self.path.open(mode, encoding="utf-8") as log:
            log.write(f"== {cell}\n{trace}\n")
        self.described.append(f"{cell}: {error}")
        print(f"synthdistill: cell failed: {cell}: {error}", file=sys.stderr, flush=True)

    def raise_if_any(self, ran: int) -> None:
        if not self.described:
            self.path.unlink(missing_ok=True)
            return
        more = len(self.described) - 3
        shown = "; ".join(self.described[:3]) + (f"; and {more} more" if more > 0 else "")
        raise SynthdistillError(
            f"{len(self.described)} of {ran} experiment cells failed ({shown}); the other cells are stored, and "
            f"running the same command again retries only the failed ones. Tracebacks: {self.path}"
        )


@dataclass
class ExperimentSummary:
    rows: list[dict[str, Any]]
    points: list[CurvePoint]
    crossovers: list[Crossover]
    teacher: dict[tuple[str, str], float]
    teacher_origin: str
    ran: int
    skipped: int
    missing: int = 0  # cells of the grid left out of a report written with report_only
    files: dict[str, Path] = field(default_factory=dict)
    bootstrap: dict[str, Any] = field(default_factory=dict)  # what the bootstrap resampled, see `summarise`


def language_groups(experiment: ExperimentConfig) -> dict[str, list[str]]:
    low = [lang for lang in experiment.languages if lang in experiment.low_resource]
    other = [lang for lang in experiment.languages if lang not in experiment.low_resource]
    groups = {LOW_RESOURCE: low, OTHER: other, ALL_LANGUAGES: list(experiment.languages)}
    return {name: members for name, members in groups.items() if members}


@dataclass
class Statistics:
    points: list[CurvePoint]
    crossovers: list[Crossover]
    teacher: dict[tuple[str, str], float]  # languages and language groups
    bootstrap: dict[str, Any]


def summarise(
    experiment: ExperimentConfig,
    rows: Sequence[dict[str, Any]],
    teacher: dict[tuple[str, str], float],
    predictions: dict[tuple[str, str], TeacherPredictions] | None = None,
) -> Statistics:
    """Curves per language and per language group, each point's difference to the teacher and each curve's
    crossover, from one bootstrap over repeats and test texts (see `curve_statistics`).

    A task at a time: its cells' macro-F1 on the B test resamples (B floats per cell that kept its predictions;
    80 MB for 10,000 cells) live only while its curves are computed."""
    groups = language_groups(experiment)
    specs = {task.name: task for task in experiment.task_specs()}
    points: list[CurvePoint] = []
    crossing: list[Crossover] = []
    all_teacher = {**teacher, **group_teacher(teacher, groups)}
    counts = {"cells": len(rows), "cells_resampled": 0, "teacher_lines": len(teacher), "teachers_resampled": 0}
    by_task: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)
    for task, task_rows in by_task.items():
        cells, teachers = _resampled_task(experiment, specs[task], task_rows, predictions or {})
        counts["cells_resampled"] += sum(1 for row in task_rows if row.get("predicted") is not None)
        counts["teachers_resampled"] += len(teachers)
        curves, resampled = group_scores(task_rows), group_scores(task_rows, cells)
        lines = {key: score for key, score in teacher.items() if key[0] == task}
        # A group's teacher on draw b averages its languages' teacher on their draw b; a fixed line is the same
        # number on every draw.
        teacher_draws = {key: teachers.get(key, np.broadcast_to(score, (RESAMPLES,))) for key, score in lines.items()}
        mine, found = curves_statistics(
            {**curves, **group_languages(curves, groups)}, {**lines, **group_teacher(lines, groups)},
            resampled={**resampled, **group_languages(resampled, groups)},
            resampled_teacher={**teacher_draws, **group_teacher(teacher_draws, groups)} if teachers else None,
            seed=experiment.seed,
        )  # fmt: skip
        points += mine
        crossing += found
    return Statistics(points, crossing, all_teacher, _bootstrap_record(experiment, counts))


def _resampled_task(
    experiment: ExperimentConfig,
    task: ExperimentTaskSpec,
    rows: Sequence[dict[str, Any]],
    predictions: dict[tuple[str, str], TeacherPredictions],
) -> tuple[list[np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """Each row's macro-F1 on its language's test resamples (its one score on every draw when it kept no
    predictions), and the teacher's on the same resamples where its predictions are at hand. The gold labels
    are read once per language, and only when something is to be resampled."""
    labels = list(task.labels)
    cells = [np.broadcast_to(float(row["macro_f1"]), (RESAMPLES,)) for row in rows]  # views: no memory
    teachers: dict[tuple[str, str], np.ndarray] = {}
    by_language: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_language.setdefault(row["language"], [])
        if row.get("predicted") is not None:
            by_language[row["language"]].append(i)
    for language, mine in by_language.items():
        line = predictions.get((task.name, language))
        if not mine and line is None:
            continue
        gold = [e.label for e in cell_examples(str(experiment.file(task, "test", language)), tuple(labels), language)]
        predicted = [[labels[j] if j >= 0 else None for j in rows[i]["predicted"]] for i in mine]
        if any(len(p) != len(gold) for p in predicted):
            raise DataError(
                f"task {task.name}, {language}: a cell holds predictions for another test split than the "
                f"{len(gold)} texts of {experiment.file(task, 'test', language)}"
            )
        draws = language_resampling(len(gold), seed=experiment.seed, language=language)
        for i, values in zip(mine, resampled_macro_f1(gold, predicted, labels, draws), strict=True):
            cells[i] = values
        if line is not None and line.gold == gold:  # else its predictions are of another test split: a fixed line
            teachers[(task.name, language)] = resampled_macro_f1(gold, [line.predicted], labels, draws)[0]
    return cells, teachers


BOOTSTRAP_RULE = (
    "one bootstrap over repeats and test texts ({resamples:,} draws, seed {seed}): draw b resamples each point's "
    "repeats with replacement, averages their macro-F1 on test resample b (one resampling per language, shared "
    "by every cell and the teacher) and subtracts the teacher's macro-F1 on the same resample; language groups "
    "average their languages on each draw. A point is better (▲) or worse (▼) than the teacher when the 95% "
    "percentile interval of that difference excludes 0; the crossover N is the smallest N at which the student "
    "is better, its interval the 2.5th to 97.5th percentile of the first N at which a draw's mean beats the "
    "draw's teacher; n_mean is the first N whose mean is above the teacher"
)


def _bootstrap_record(experiment: ExperimentConfig, counts: dict[str, int]) -> dict[str, Any]:
    """What the bootstrap resampled, for results.json and the report's notes: the rule, and each fallback that
    applied (cells from an older store kept no predictions; a teacher line from a results file has only scores)."""
    notes = []
    cells, resampled = counts["cells"], counts["cells_resampled"]
    if resampled < cells:
        which = "No cell kept its" if resampled == 0 else f"{cells - resampled} of {cells} cells kept no"
        notes.append(
            f"{which} test predictions (rows from an older result store, without predicted and macro_f1_ci): "
            "their scores are resampled over repeats only, the same number on every test resample."
        )
    lines, teachers = counts["teacher_lines"], counts["teachers_resampled"]
    from_file = bool(experiment.teacher and experiment.teacher.results)
    why = "read from a results file that has only scores" if from_file else "without the teacher's test predictions"
    if lines and teachers == 0:
        notes.append(f"The teacher line ({why}) is a fixed number: only the students are resampled against it.")
    elif teachers < lines:
        notes.append(f"{lines - teachers} of {lines} teacher scores ({why}) are fixed numbers; the others are "
                     "resampled on the same test texts as the students.")  # fmt: skip
    elif lines:
        notes.append(
            "The teacher is resampled on the same test texts as the students: its predictions in "
            "teacher/TASK/teacher_predictions.jsonl, in the setting its line uses (best on dev, else the first)."
        )
    return {
        "resamples": RESAMPLES, "seed": experiment.seed,
        "rule": BOOTSTRAP_RULE.format(resamples=RESAMPLES, seed=experiment.seed),
        **counts, "notes": notes,
    }  # fmt: skip


def run_experiment(
    experiment: ExperimentConfig,
    out: str | Path,
    *,
    executor: Executor | None = None,
    progress: bool = True,
    report_only: bool = False,
) -> ExperimentSummary:
    """Run the cells the store lacks, then the teacher line, the statistics and the report. `report_only`: run
    no cell and report the ones stored so far, to look at a grid that takes days before it ends."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "experiment.yaml", yaml.safe_dump(experiment.model_dump(mode="json"), sort_keys=False))
    workdir = out / "work"
    cells = plan_cells(experiment, workdir)
    executor = executor or LocalExecutor()
    store = ResultStore(out / STORE_FILE)
    try:
        done = store.done(c.key for c in cells)
        if report_only and not done:
            raise DataError(f"{out / STORE_FILE}: no cell of this grid is stored yet: run it without --report-only")
        todo = [] if report_only else [c for c in cells if c.key not in done]
        if not report_only:  # a report starts no executor and leaves the last run's failures.log alone
            _run_cells(todo, store, executor, out / FAILURES_FILE, progress, fresh_processes(experiment))
        found = store.rows(c.key for c in cells)
    finally:
        store.close()
    rows = [found[c.key] for c in cells if c.key in found]
    write_jsonl(out / "cells.jsonl", rows)
    teacher, origin = teacher_line(experiment, out, progress)
    statistics = summarise(experiment, rows, teacher, teacher_predictions(experiment, out))
    summary = ExperimentSummary(
        rows, statistics.points, statistics.crossovers, statistics.teacher, origin, ran=len(todo), skipped=len(done),
        missing=len(cells) - len(rows), bootstrap=statistics.bootstrap,
    )  # fmt: skip
    summary.files = write_experiment_outputs(experiment, out, summary)
    return summary


def fresh_processes(experiment: ExperimentConfig) -> bool:
    """Whether each cell gets a new worker process: yes where a student holds a torch model. Such a cell leaves
    gigabytes resident after it ends (2.6-3.1 GB in the paper-students grid), which the next cell in the same
    worker counted as its own peak; a new process costs seconds, next to such a cell's minutes."""
    from synthdistill.students.registry import student_registry

    registry = student_registry()
    return any(getattr(registry[spec.type], "holds_torch_model", False) for spec in experiment.students)


def _run_cells(
    todo: Sequence[Cell], store: ResultStore, executor: Executor, failures: Path, progress: bool, fresh: bool
) -> None:
    """Each cell's row into the store as it finishes; the failed ones reported once every other is stored."""
    bar = progress_bar(len(todo), f"cells ({executor.name})", unit="cell", enabled=progress)
    failed = CellFailures(failures)
    payloads = [c.payload for c in todo]
    try:
        for index, outcome in executor.map_unordered(run_cell_or_failure, payloads, fresh_process_per_task=fresh):
            if "error" in outcome:
                failed.add(todo[index].payload, outcome["error"], outcome["traceback"])
            else:
                row = outcome["row"]
                store.put(todo[index].key, "cell", row)
                bar.set_postfix_str(f"{row['language']} {row['student']} {row['source']} N={row['n']}")
            bar.update()
    finally:
        bar.close()
    failed.raise_if_any(len(todo))


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
        "bootstrap": summary.bootstrap,
        "cells": {"stored": len(summary.rows), "missing": summary.missing},
    }
    atomic_write_text(out / "results.json", json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    cell_intervals = (
        "; each cell's macro_f1_ci in cells.jsonl is its 95% bootstrap interval over the test texts"
        if summary.bootstrap.get("cells_resampled")
        else ""
    )
    partial = (
        [
            f"Partial report (--report-only): {len(summary.rows)} of {len(summary.rows) + summary.missing} cells "
            "stored, the rest left out; a point averages the repeats stored, a language group needs all its "
            "languages."
        ]
        if summary.missing
        else []
    )
    notes = [
        *partial,
        f"Grid: tasks {', '.join(t.name for t in experiment.task_specs())}; {_grid_note(experiment)}; "
        f"sources {', '.join(experiment.sources)}; "
        f"{experiment.repeats} repeats with seeds {experiment.seed} to {experiment.seed + experiment.repeats - 1}.",
        f"Teacher line: {summary.teacher_origin}.",
        "Scores: macro-F1 on the full human-labelled test split; bands are 95% t-intervals of the mean over repeats"
        f"{cell_intervals}.",
        "Versus the teacher: " + summary.bootstrap.get("rule", "no bootstrap") + ".",
        *summary.bootstrap.get("notes", []),
        *(f"{line}." for line in skipped_combinations(experiment)),
        f"Language groups: low-resource = {', '.join(language_groups(experiment).get(LOW_RESOURCE, [])) or 'none'}.",
    ]
    files = write_experiment_report(
        out, title=f"synthdistill experiment: {experiment.name}", points=summary.points, teacher=summary.teacher,
        crossovers=summary.crossovers, languages=experiment.languages,
        groups=language_groups(experiment), notes=notes, cells=summary.rows,
    )  # fmt: skip
    return {"results": out / "results.json", **files}
