"""The experiment runner: every cell of the grid (task, language, student, source, N, repeat) trains one student
on a class-balanced sample and scores it on the human test split; the teacher's score is the reference line.

Each cell's key hashes what decides its result (the student's settings, the sample's seed and size, the data
files' contents), so a re-run skips finished cells and a changed config runs only the cells it adds or changes.

Output folder: experiment.yaml, results.sqlite (the store), cells.jsonl, teacher/ (the teacher run here, with
its request cache), work/ (embedding and request caches shared by cells), results.json (curves, crossovers),
report.md, report.html, plots/.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from synthdistill.config import Config, parse_config
from synthdistill.data import Example, atomic_write_text, read_examples, read_json_file, sample_per_label, write_jsonl
from synthdistill.errors import DataError, SynthdistillError
from synthdistill.evaluation.scores import classification_scores
from synthdistill.experiments.config import ExperimentConfig, ExperimentTaskSpec
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

STORE_FILE = "results.sqlite"
LOW_RESOURCE, OTHER = "low-resource", "other"


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


def task_pipeline_config(
    experiment: ExperimentConfig, task: ExperimentTaskSpec, languages: Sequence[str], dev: str | None = None
) -> Config:
    """The single-task config that students needing a task description (icl) and the teacher line use."""
    reference = experiment.teacher
    teacher = reference.model if reference and reference.model else None
    dev = dev or task.dev
    raw = {
        "task": {**task.model_dump(include={"name", "domain", "text_kind", "label_kind"}), "languages": list(languages),
                 "labels": [{"name": label, "description": label} for label in task.labels]},
        "data": {"test": str(experiment.path(task.test)),
                 **{split: str(experiment.path(t)) for split, t in (("seed", task.human), ("dev", dev)) if t}},
        "students": [],
        **({"teacher": teacher.model_dump(mode="json")} if teacher else {}),
        **({"evaluation": reference.evaluation.model_dump(mode="json")} if reference else {}),
    }  # fmt: skip
    return parse_config(raw, source=f"experiment task {task.name}")


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
            config = task_pipeline_config(experiment, task, [language])
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
                                "files": {split: str(path) for split, path in chosen.items()},
                                "config": config.model_dump(mode="json"),
                            }  # fmt: skip
                            cells.append(Cell(task.name, language, spec.display_name, source, n, repeat, key, payload))
    return cells


@cache
def _examples(path: str, labels: tuple[str, ...], language: str) -> list[Example]:
    """The file's rows in this language: a file whose rows carry `language` may hold several."""
    rows = [e for e in read_examples(path, labels, language=language) if e.language == language]
    if not rows:
        raise DataError(f"{path}: no rows in language {language}")
    return rows


def run_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Train one student on one sample and score it on the test split (runs in a worker process)."""
    from synthdistill.students.registry import student_registry

    labels, language = tuple(payload["labels"]), payload["language"]
    files = payload["files"]
    pools = {split: _examples(files[split], labels, language) for split in ("human", "synthetic") if split in files}
    rows = training_sample(pools, payload["source"], payload["per_class"], payload["seed"])
    test = _examples(files["test"], labels, language)
    dev_rows = _examples(files["dev"], labels, language) if "dev" in files else None
    workdir = Path(payload["workdir"])
    run_name = f"cell-{payload['key'][:16]}"
    config = parse_config(payload["config"], source="experiment cell")
    options = dict(payload["options"])
    student = student_registry()[options.pop("type")].from_options(
        options, seed=payload["seed"], workdir=workdir, config=config, language=language, run_name=run_name
    )
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
    from synthdistill.pipeline import BEST_TEACHER, classify

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
        config = task_pipeline_config(experiment, task, experiment.languages, dev=dev)
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
    from synthdistill.data import write_examples

    for language in experiment.languages:
        pool = _examples(str(experiment.file(task, "human", language)), tuple(task.labels), language)
        chosen = sample_per_label(pool, per_class, seed=experiment.seed)
        write_examples(
            folder / "dev" / f"{language}.jsonl", [e for label in task.labels for e in chosen.get(label, [])]
        )
    return folder / "dev" / "{lang}.jsonl"


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
    from tqdm import tqdm

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
        bar = tqdm(total=len(todo), desc=f"cells ({executor.name})", unit="cell", file=sys.stderr,
                   disable=None if progress else True)  # fmt: skip
        try:
            for index, row in executor.map_unordered(run_cell, [c.payload for c in todo]):
                store.put(todo[index].key, "cell", row)
                bar.update()
                bar.set_postfix_str(f"{row['language']} {row['student']} {row['source']} N={row['n']}")
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
