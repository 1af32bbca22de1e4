"""The Python API: each stage reads and writes plain files in one output folder; `run` chains them.

Output folder: config.yaml (resolved, re-runnable), cache.sqlite (teacher answers), synthetic.jsonl,
dropped.jsonl, dataset_card.md, teacher_predictions.jsonl, teacher_results.json, students/,
student_predictions.jsonl, results.json, report.md.

A stage writes its files when it succeeds (`run` and `train` write theirs aside and move them over the old
ones at the end), so a failed or interrupted run leaves an earlier run's outputs as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthdistill.config import Config, StudentSpec
from synthdistill.data import (
    DroppedSample,
    Example,
    atomic_write_text,
    check_output_folder,
    read_dropped,
    read_examples,
    write_examples,
    write_jsonl,
)
from synthdistill.errors import BudgetExhaustedError, DataError, StudentError
from synthdistill.evaluation.intervals import (
    RESAMPLES,
    Resampling,
    comparison,
    language_resampling,
    resampled_scores,
    score_intervals,
)
from synthdistill.evaluation.repeats import RepeatKey, render_repeats, summarise_repeats
from synthdistill.evaluation.report import ResultRecord, write_results
from synthdistill.evaluation.scores import classification_scores
from synthdistill.evaluation.source_choice import SourceChoice, choose_source
from synthdistill.evaluation.teacher_settings import (
    SCORE_FIELDS,
    score_teacher_settings,
    teacher_reference,
)
from synthdistill.generation.dataset_card import render_card, with_reviews, with_source_choices
from synthdistill.generation.filters import filter_samples, teacher_check, truncation_explained
from synthdistill.generation.label_summaries import summarise_labels
from synthdistill.generation.samples import generate_samples
from synthdistill.generation.self_revision import revise_samples
from synthdistill.generation.token_budgets import TokenBudget, token_budgets
from synthdistill.generation.translation import translate_samples, translation_requests
from synthdistill.hf_datasets import is_dataset_source
from synthdistill.reviews import (
    REVIEW_FILE,
    Reviews,
    apply_reviews,
    example_id,
    read_reviews,
    rescued_samples,
    standing_counts,
)
from synthdistill.sources import SEED, SourcePlan, readable_languages, source_plan, source_rows
from synthdistill.students.base import Student, probability_rows
from synthdistill.students.registry import load_student, student_registry
from synthdistill.teachers import Teacher, TeacherStats, open_teacher

SYNTHETIC_FILE = "synthetic.jsonl"
DROPPED_FILE = "dropped.jsonl"
TEACHER_RESULTS_FILE = "teacher_results.json"
TEACHER_PREDICTIONS_FILE = "teacher_predictions.jsonl"
STUDENT_PREDICTIONS_FILE = "student_predictions.jsonl"
STUDENT_INDEX_FILE = "students/index.json"
STUDENT_SOURCES_FILE = "students/sources.json"  # auto's choices, and students skipped for their source
RUN_STAGING = "incomplete-run"  # what a run that has not finished wrote so far
TRAIN_STAGING = "incomplete-train"


@dataclass
class LanguageData:
    seed: list[Example]
    dev: list[Example] | None
    test: list[Example]


@dataclass
class RunSummary:
    records: list[ResultRecord]
    report: str
    stats: TeacherStats = field(default_factory=TeacherStats)
    n_synthetic: int = 0
    n_dropped: int = 0


def load_datasets(config: Config) -> dict[str, LanguageData]:
    """Read every human data file the config names, before any work, so a bad file fails fast."""
    labels = config.task.label_names
    options = {
        "text_column": config.data.text_column,
        "label_column": config.data.label_column,
        "fmt": config.data.format,
    }
    datasets: dict[str, LanguageData] = {}
    for language in config.task.languages:
        loaded: dict[str, list[Example] | None] = {}
        for split in ("seed", "dev", "test"):
            path = config.data_path(split, language)  # type: ignore[arg-type]
            try:
                loaded[split] = None if path is None else read_examples(path, labels, language=language, **options)
            except DataError as err:
                raise DataError(f"data.{split} ({language}): {err}") from None
        datasets[language] = LanguageData(seed=loaded["seed"] or [], dev=loaded["dev"], test=loaded["test"] or [])
    return datasets


def output_folder(out: str | Path) -> Path:
    """The output folder, made if needed; a clear error when it is a file or lies under one."""
    out = check_output_folder(out, "output folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_config(config: Config, out: Path) -> None:
    """The resolved config, written by a stage that succeeded: a failed one never replaces a good one's."""
    atomic_write_text(out / "config.yaml", config.to_yaml())


@contextmanager
def staged_outputs(out: Path, name: str) -> Iterator[Path]:
    """A folder `out/name` for a stage's new files, moved over the old ones only when the stage succeeds.

    On a failure the old outputs stay as they were and the new files stay in `out/name` to look at; the next
    attempt starts that folder afresh (answers paid for live in the request cache, not here).
    """
    staging = out / name
    if staging.is_dir() and not staging.is_symlink():
        shutil.rmtree(staging)
    else:
        staging.unlink(missing_ok=True)  # a file (or link) where the staging folder goes is no output of ours
    staging.mkdir(parents=True)
    yield staging
    for entry in sorted(staging.iterdir()):
        target = out / entry.name
        if target.is_dir() and not target.is_symlink():
            replaced = out / f".{entry.name}.replaced"  # folders cannot be swapped in one step: move the old aside
            shutil.rmtree(replaced, ignore_errors=True)
            target.rename(replaced)
            entry.rename(target)
            shutil.rmtree(replaced)
        else:
            os.replace(entry, target)
    staging.rmdir()


@contextmanager
def opened_teacher(config: Config, out: Path, *, progress: bool = True) -> Iterator[Teacher]:
    teacher = open_teacher(config.teacher, out / "cache.sqlite", progress=progress)
    try:
        yield teacher
    finally:
        teacher.close()


def _seed_pools(config: Config, datasets: dict[str, LanguageData], plan: SourcePlan) -> dict[str, list[Example]]:
    """Seed examples per language, plus those of `generation.demo_language` and of the pivot language when they
    are not task languages (the pivot's only where its seed file exists: without it, no demonstrations)."""
    pools = {language: data.seed for language, data in datasets.items()}
    options = {"text_column": config.data.text_column, "label_column": config.data.label_column}
    demo = config.generation.demo_language
    if demo is not None and demo not in pools:
        path = config.data_path("seed", demo)
        if path is None:
            raise DataError("generation.demo_language needs data.seed, with {lang} in its path")
        pools[demo] = read_examples(path, config.task.label_names, language=demo, fmt=config.data.format, **options)
    pivot = plan.pivot
    if pivot is not None and pivot not in pools and pivot in plan.writes_in():
        path = config.data_path("seed", pivot)
        exists = (
            path is not None and "{lang}" in (config.data.seed or "") and (path.is_file() or is_dataset_source(path))
        )
        pools[pivot] = (
            read_examples(path, config.task.label_names, language=pivot, fmt=config.data.format, **options)  # type: ignore[arg-type]
            if exists
            else []
        )
    return pools


@dataclass
class GeneratedData:
    samples: list[Example]
    dropped: list[DroppedSample]
    budgets: dict[str, TokenBudget]  # per language, max_tokens per sample and how it was found


def generate(
    config: Config, out: str | Path, teacher: Teacher | None = None, *, progress: bool = True
) -> tuple[list[Example], list[DroppedSample]]:
    """Write synthetic.jsonl (kept samples with provenance), dropped.jsonl, dataset_card.md and, with label
    summaries, label_summaries.json."""
    generated = generate_data(config, out, teacher, progress=progress)
    return generated.samples, generated.dropped


def generate_data(
    config: Config, out: str | Path, teacher: Teacher | None = None, *, progress: bool = True
) -> GeneratedData:
    """`generate`, also returning each language's token budget (a shard hands it to the merged card)."""
    out = output_folder(out)
    datasets = load_datasets(config)
    plan = source_plan(config)
    seeds = _seed_pools(config, datasets, plan)
    with _teacher_or(config, out, teacher, progress) as active:
        task, generation, mode = config.task, config.generation, config.teacher.prompt_mode
        written_task = task.model_copy(update={"languages": plan.writes_in()})  # the pivot once, whoever uses it
        summaries = (
            summarise_labels(written_task, mode, active, seeds, seed=generation.seed)
            if generation.label_summaries
            else None
        )
        budgets = token_budgets(generation, list(dict.fromkeys([*written_task.languages, *task.languages])), seeds,
                                active)  # fmt: skip
        raw, dropped = generate_samples(written_task, generation, mode, active, seeds, summaries, budgets)
        dropped = truncation_explained(dropped, config.filters)
        seed_texts = [example.text for pool in seeds.values() for example in pool]
        samples, filtered = filter_samples(raw, config.filters, seed_texts=seed_texts)
        dropped += filtered
        if generation.self_revision:
            samples, rejected = revise_samples(written_task, mode, active, samples, seeds, seed=generation.seed)
            dropped += rejected
        if config.filters.teacher_check:
            shots, seed = config.filters.teacher_check_shots, config.evaluation.seed
            samples, rejected = teacher_check(written_task, mode, active, samples, seeds, shots=shots, seed=seed)
            dropped += rejected
        if plan.translates_into():
            planned = translation_requests(
                task, mode, [s for s in samples if s.language == plan.pivot], plan.translates_into(),
                {language: budget.tokens for language, budget in budgets.items()},
                per_request=config.source.translations_per_request, template=config.source.translation_template,
                seed=generation.seed,
            )  # fmt: skip
            translated, failed = translate_samples(mode, active, planned)
            kept, filtered = filter_samples(translated, config.filters, seed_texts=seed_texts)
            samples, dropped = samples + kept, dropped + failed + filtered
        if set(plan.kinds.values()) != {"in_language"}:
            for sample in samples:
                sample.meta["used_by"] = plan.used_by(sample)
        write_generation_outputs(config, out, samples, dropped, active.stats, active.model, summaries, budgets)
    return GeneratedData(samples, dropped, budgets)


def write_generation_outputs(
    config: Config,
    out: Path,
    samples: Sequence[Example],
    dropped: Sequence[DroppedSample],
    stats: TeacherStats,
    model: str,
    summaries: dict | None,
    budgets: Mapping[str, TokenBudget],
) -> None:
    """synthetic.jsonl, dropped.jsonl, the dataset card and label_summaries.json of a finished generation."""
    if summaries is not None:
        atomic_write_text(out / "label_summaries.json", json.dumps(summaries, ensure_ascii=False, indent=1) + "\n")
    status = "complete"
    if stats.not_sent:
        status = (f"incomplete: the teacher budget was spent and {stats.not_sent} requests were not sent; "
                  "re-run with a larger budget to continue (every answer so far is cached)")  # fmt: skip
    card = render_card(
        config, samples, dropped, stats, teacher_model=model, budgets=budgets, summaries=summaries, status=status
    )
    write_jsonl(out / DROPPED_FILE, (row.to_dict() for row in dropped))
    atomic_write_text(out / "dataset_card.md", card)
    write_examples(out / SYNTHETIC_FILE, samples)
    write_config(config, out)


@contextmanager
def _teacher_or(config: Config, out: Path, teacher: Teacher | None, progress: bool) -> Iterator[Teacher]:
    if teacher is not None:
        yield teacher
    else:
        with opened_teacher(config, out, progress=progress) as opened:
            yield opened


def _prediction_rows(path: Path, whose: str, stage: str) -> Iterator[dict]:
    """The rows of a predictions file, each checked to carry language, classifier and predicted."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not {"language", "classifier", "predicted"} <= row.keys():
                    raise KeyError
            except (json.JSONDecodeError, KeyError):
                raise DataError(f"{path}: line {number}: not a {whose} prediction; run `{stage}` again") from None
            yield row


def read_teacher_predictions(path: Path, settings: dict[str, str]) -> dict[str, list[str | None]]:
    """Per language, the test predictions of the teacher setting named for it, in test order; none without the
    file (an output folder where `classify` has not run)."""
    found: dict[str, list[str | None]] = {}
    if not settings or not path.is_file():
        return found
    for row in _prediction_rows(path, "teacher", "classify"):
        if settings.get(row["language"]) == row["classifier"]:
            found.setdefault(row["language"], []).append(row["predicted"])
    return found


def teacher_resampled(
    out: Path, reference: ResultRecord | None, gold: Sequence[str], labels: Sequence[str], draws: Resampling
) -> dict[str, np.ndarray] | None:
    """The teacher line's scores on one language's resampled test texts, from its predictions in `out`; None
    without them (no paired comparison is possible then)."""
    if reference is None:
        return None
    setting = {reference.language: reference.setting or reference.classifier}
    predicted = read_teacher_predictions(out / TEACHER_PREDICTIONS_FILE, setting).get(reference.language)
    if predicted is None or len(predicted) != len(gold):
        return None
    return resampled_scores(gold, predicted, labels, draws)


def read_student_predictions(path: Path) -> dict[tuple[str, str, str], list[str | None]]:
    """(language, classifier, train source) -> the student's test predictions in test order, from `evaluate`."""
    found: dict[tuple[str, str, str], list[str | None]] = {}
    for row in _prediction_rows(path, "student", "evaluate"):
        found.setdefault((row["language"], row["classifier"], row.get("train_source", "")), []).append(row["predicted"])
    return found


def read_synthetic(config: Config, path: str | Path) -> list[Example]:
    examples = read_examples(path, config.task.label_names)
    allowed = readable_languages(config)
    for number, example in enumerate(examples, start=1):
        if example.language not in allowed:
            raise DataError(
                f"{path}: row {number}: language {example.language!r} is neither a task language nor the pivot"
            )
    return examples


def _read_reviews(config: Config, out: Path) -> Reviews:
    """OUT/review.jsonl's decisions; a line that cannot be read is named in a warning and skipped."""
    reviews = read_reviews(out / REVIEW_FILE, config.task.label_names)
    for problem in reviews.problems:
        warnings.warn(problem, stacklevel=3)
    return reviews


def _with_rescued(config: Config, synthetic: Sequence[Example], dropped_file: Path, reviews: Reviews) -> list[Example]:
    """The synthetic samples, then those in `dropped_file` that a person kept."""
    if not reviews.decisions:
        return list(synthetic)
    dropped = read_dropped(dropped_file, config.task.label_names)
    return [*synthetic, *rescued_samples(synthetic, dropped, reviews)]


def export_reviewed(config: Config, out: str | Path, output: str | Path) -> tuple[int, int]:
    """Write OUT's synthetic samples as reviewed (JSONL, CSV or Parquet by extension), each row with its stable
    `id` and `reviewed` (whether a person decided on it); return (rows written, rows reviewed)."""
    out = Path(out)
    reviews = _read_reviews(config, out)
    synthetic = _with_rescued(config, read_synthetic(config, out / SYNTHETIC_FILE), out / DROPPED_FILE, reviews)
    rows = [
        Example(kept.text, kept.label, kept.language,
                {**kept.meta, "id": example_id(sample), "reviewed": bool(kept.meta.get("reviewed"))})
        for sample in synthetic
        for kept in apply_reviews([sample], reviews)
    ]  # fmt: skip
    write_export(config, out, output, rows)
    return len(rows), sum(1 for row in rows if row.meta["reviewed"])


def write_export(config: Config, out: str | Path, output: str | Path, samples: Sequence[Example]) -> None:
    """Samples to a JSONL, CSV or Parquet file, or (a path without extension) to a datasets `save_to_disk` folder
    whose label column is a ClassLabel of the task's labels and whose README.md is OUT's dataset card."""
    card_file = Path(out) / "dataset_card.md"
    card = card_file.read_text(encoding="utf-8") if card_file.is_file() else None
    write_examples(output, samples, labels=config.task.label_names, card=card)


def train(
    config: Config,
    out: str | Path,
    synthetic: Sequence[Example] | None = None,
    *,
    workdir: Path | None = None,
    reviews_in: Path | None = None,
) -> list[dict]:
    """Train every configured student on each of its sources, per language; save under students/, replacing
    the folder's students only once all are trained. `workdir`: where students keep caches and checkpoints
    (default: `out`); `reviews_in`: the folder whose review.jsonl applies (default: `out`; `run` trains in a
    staging folder inside it). With `source: auto`, students/sources.json and the dataset card record each choice."""
    out = Path(out)
    if synthetic is None:
        synthetic = read_synthetic(config, out / SYNTHETIC_FILE)
    reviews = _read_reviews(config, reviews_in or out)
    synthetic = apply_reviews(_with_rescued(config, synthetic, out / DROPPED_FILE, reviews), reviews)
    datasets = load_datasets(config)
    out = output_folder(out)
    with staged_outputs(out, TRAIN_STAGING) as staging:
        trained, choices = _train_into(config, staging, synthetic, datasets, workdir or out)
        card = out / "dataset_card.md"
        reviewed = standing_counts(reviews)
        if (choices or any(reviewed.values())) and card.is_file():
            updated = card.read_text(encoding="utf-8")
            updated = with_source_choices(updated, choices) if choices else updated
            updated = with_reviews(updated, reviewed, trained) if any(reviewed.values()) else updated
            atomic_write_text(staging / "dataset_card.md", updated)
        return trained


def _train_into(
    config: Config, out: Path, synthetic: Sequence[Example], datasets: dict[str, LanguageData], workdir: Path
) -> tuple[list[dict], list[SourceChoice]]:
    registry = student_registry()
    plan = source_plan(config)
    labels = config.task.label_names
    trained: list[dict] = []
    choices: list[SourceChoice] = []
    skipped: list[dict] = []
    for spec in config.students:
        for train_source in spec.train_on:
            for language in config.task.languages:
                data = datasets[language]
                where = f"student {spec.display_name} on {train_source} data for {language}"
                dev = ([e.text for e in data.dev], [e.label for e in data.dev]) if data.dev else None

                def fit(rows: list[Example], spec: StudentSpec = spec, language: str = language, dev=dev) -> Student:
                    student = registry[spec.type].from_options(
                        spec, task=config.task, teacher=config.teacher, language=language,
                        seed=config.generation.seed, workdir=workdir,
                    )  # fmt: skip
                    return student.fit([e.text for e in rows], [e.label for e in rows], dev=dev)

                def rows_of(source: str, language: str = language, seed: list[Example] = data.seed) -> list[Example]:
                    return source_rows(plan, source, language, synthetic, seed, config.generation.seed)

                source: str = SEED if train_source == "human" else plan.kinds[language]
                note = None
                try:
                    if source == "auto":
                        candidates = plan.candidates(
                            language, has_seed=bool(data.seed), crosses_languages=spec.crosses_languages
                        )
                        student, source, rows, choice = choose_source(
                            candidates, rows_of, fit, dev, labels, name=plan.name,  # type: ignore[arg-type]
                            language=language, classifier=spec.display_name,
                        )  # fmt: skip
                        choices.append(choice)
                    else:
                        if not spec.crosses_languages and plan.uses_pivot(language) and source in ("pivot", "mixed"):
                            why = f"a {spec.type} student cannot learn {language} from {plan.pivot} text"
                            if source == "pivot":
                                skipped.append({"classifier": spec.display_name, "language": language,
                                                "source": plan.name(source), "reason": why})  # fmt: skip
                                continue
                            source, note = plan.mixed_with, f"{why}: trained on the {plan.mixed_with} part of mixed"
                        rows = rows_of(source)
                        student = fit(rows)
                except StudentError as err:
                    raise StudentError(f"{where}: {err}") from None
                folder = f"students/{spec.display_name}-{train_source}/{language}"
                student.save(out / folder)
                entry = {"classifier": spec.display_name, "train_source": train_source, "language": language,
                         "data_source": plan.name(source), "n_train": len(rows),
                         "n_reviewed": sum(1 for e in rows if e.meta.get("reviewed")), "path": folder}  # fmt: skip
                trained.append({**entry, "note": note} if note else entry)
    atomic_write_text(out / STUDENT_INDEX_FILE, json.dumps(trained, indent=1) + "\n")
    if choices or skipped:
        sources = {"choices": [c.to_dict() for c in choices], "skipped": skipped}
        atomic_write_text(out / STUDENT_SOURCES_FILE, json.dumps(sources, ensure_ascii=False, indent=1) + "\n")
    return trained, choices


def classify(
    config: Config, out: str | Path, teacher: Teacher | None = None, *, progress: bool = True
) -> list[ResultRecord]:
    """Score the teacher itself as a classifier in every configured setting (shots, label names or numbers, with
    and without contextual calibration): with a human dev split each on dev, and the best one on test as
    teacher-best-on-dev (every setting on test with `evaluation.teacher_test: all`, or without a dev split).
    Test data never chooses a setting."""
    out = output_folder(out)
    datasets = load_datasets(config)
    records: list[ResultRecord] = []
    predictions_rows: list[dict] = []
    with _teacher_or(config, out, teacher, progress) as active:
        for language, data in datasets.items():
            language_records, rows = score_teacher_settings(
                config.task, config.teacher.prompt_mode, config.evaluation, active, language,
                seed=data.seed, dev=data.dev, test=data.test,
            )  # fmt: skip
            records += language_records
            predictions_rows += rows
    write_jsonl(out / TEACHER_PREDICTIONS_FILE, predictions_rows)
    atomic_write_text(out / TEACHER_RESULTS_FILE, json.dumps([r.to_dict() for r in records], indent=1) + "\n")
    write_config(config, out)
    return records


def evaluate(config: Config, out: str | Path) -> tuple[list[ResultRecord], str]:
    """Score every trained student on the test sets, beside the teacher's scores; write results.json and report.md."""
    out = Path(out)
    datasets = load_datasets(config)
    labels = config.task.label_names
    records: list[ResultRecord] = []
    teacher_file = out / TEACHER_RESULTS_FILE
    if teacher_file.is_file():
        records += [ResultRecord(**row) for row in json.loads(teacher_file.read_text(encoding="utf-8"))]
    index_file = out / STUDENT_INDEX_FILE
    if not index_file.is_file() and not records:
        raise DataError(f"{out}: nothing to evaluate: run `train` and/or `classify` first")
    index = json.loads(index_file.read_text(encoding="utf-8")) if index_file.is_file() else []
    sources_file = out / STUDENT_SOURCES_FILE
    sources = json.loads(sources_file.read_text(encoding="utf-8")) if sources_file.is_file() else {}
    chosen = {(c["language"], c["classifier"]): c for c in sources.get("choices", [])}
    prediction_rows: list[dict] = []
    for language, data in datasets.items():
        gold = [e.label for e in data.test]
        draws = language_resampling(len(gold), seed=config.evaluation.seed, language=language)
        reference = teacher_reference([r for r in records if r.language == language])
        teacher_scores = teacher_resampled(out, reference, gold, labels, draws)
        for entry in (e for e in index if e["language"] == language):
            predicted = load_student(out / entry["path"]).predict([e.text for e in data.test])
            prediction_rows += [
                {"language": language, "classifier": entry["classifier"], "train_source": entry["train_source"],
                 "text": e.text, "gold": e.label, "predicted": p}
                for e, p in zip(data.test, predicted, strict=True)
            ]  # fmt: skip
            scores = classification_scores(gold, predicted, labels)
            resampled = resampled_scores(gold, predicted, labels, draws)
            record = ResultRecord(
                task=config.task.name,
                language=language,
                classifier=entry["classifier"],
                train_source=entry["train_source"],
                n_train=entry["n_train"],
                model=entry["path"],
                data_source=entry.get("data_source"),
                n_reviewed=entry.get("n_reviewed"),
                source_choice=chosen.get((language, entry["classifier"])) if entry["train_source"] != "human" else None,
                **{k: scores[k] for k in SCORE_FIELDS},
                **score_intervals(resampled),
            )
            if reference is not None and teacher_scores is not None:
                record.vs_teacher = comparison(
                    resampled, teacher_scores, difference=record.macro_f1 - reference.macro_f1,
                    teacher_name=reference.classifier,
                )  # fmt: skip
            records.append(record)
    order = {language: i for i, language in enumerate(config.task.languages)}
    records.sort(key=lambda r: order.get(r.language, len(order)))
    teacher_model = next((r.model for r in records if r.classifier.startswith("teacher")), None)
    teacher_name = teacher_model or getattr(config.teacher, "model", None) or config.teacher.backend  # openai names one
    notes = [
        f"Task `{config.task.name}`, teacher `{teacher_name}` "
        f"({config.teacher.backend} backend); scores on the human-labelled test split.",
        "teacher-Kshot: the teacher classifying with K human examples per label in its prompt (-numbered: "
        "labels as a numbered menu; -calibrated: contextual calibration); teacher-best-on-dev: the setting "
        "with the best macro-F1 on the human dev split, scored on test.",
        "invalid: answers that name no label, counted as wrong.",
        f"[95% CI]: bootstrap percentile interval over the test texts ({RESAMPLES:,} resamples, seed "
        f"{config.evaluation.seed}); vs teacher: the student's macro-F1 minus the teacher's on the same resampled "
        "texts (paired), better or worse when its interval excludes 0.",
        *[f"{s['classifier']} for {s['language']} was not trained on {s['source']}: {s['reason']}."
          for s in sources.get("skipped", [])],
        *[f"{e['classifier']} for {e['language']}: {e['note']}." for e in index if e.get("note")],
    ]  # fmt: skip
    write_jsonl(out / STUDENT_PREDICTIONS_FILE, prediction_rows)
    report = write_results(out, records, title=f"synthdistill: {config.task.name}", notes=notes)
    return records, report


def run(config: Config, out: str | Path, *, progress: bool = True, caches: Path | None = None) -> RunSummary:
    """Generate, filter, train, classify with the teacher, evaluate, report: the whole job.

    Every output is written into OUT/incomplete-run/ and moved over the folder's earlier outputs at the end, so
    an earlier run's results never pass for this one's, and a failed run destroys none of them. The request
    cache and the students' caches stay in `caches` (default: OUT itself): a re-run pays for nothing twice."""
    out = output_folder(out)
    caches = caches or out
    load_datasets(config)  # fail on bad data before the teacher starts
    with staged_outputs(out, RUN_STAGING) as staging:
        with opened_teacher(config, caches, progress=progress) as teacher:
            samples, dropped = generate(config, staging, teacher)
            if teacher.stats.not_sent:
                raise BudgetExhaustedError(
                    f"the teacher budget was spent during generation ({teacher.stats.not_sent} requests not sent): "
                    f"{len(samples)} samples so far are in {staging / SYNTHETIC_FILE}; training and evaluation "
                    "skipped"
                )
            classify(config, staging, teacher)
            stats = teacher.stats
        train(config, staging, samples, workdir=caches, reviews_in=out)
        records, report = evaluate(config, staging)
    return RunSummary(records, report, stats, n_synthetic=len(samples), n_dropped=len(dropped))


@dataclass
class RepeatedRunSummary:
    runs: list[RunSummary]
    rows: list[dict]  # per language and classifier: mean, sd and interval over the runs
    report: str


def run_repeated(config: Config, out: str | Path, repeats: int, *, progress: bool = True) -> RepeatedRunSummary:
    """The whole job `repeats` times with generation seeds seed, seed + 1, ...: each run in OUT/repeat-K/, all of
    them sharing OUT's request cache (the teacher's classification is paid once), then repeats.json and
    repeats.md with each classifier's mean ± sd and the 95% interval of the mean, and each student's verdict
    against the teacher over the runs."""
    if repeats < 1:
        raise DataError(f"repeats must be at least 1, not {repeats}")
    out = output_folder(out)
    runs = []
    for k in range(repeats):
        seed = config.generation.seed + k
        repeated = config.model_copy(update={"generation": config.generation.model_copy(update={"seed": seed})})
        runs.append(run(repeated, out / f"repeat-{k + 1}", progress=progress, caches=out))
    rows = summarise_repeats(
        [summary.records for summary in runs],
        resampled_runs(config, [out / f"repeat-{k + 1}" for k in range(repeats)]),
        seed=config.evaluation.seed,
    )
    seeds = f"{config.generation.seed} to {config.generation.seed + repeats - 1}"
    notes = [
        f"Task `{config.task.name}`: the whole job {repeats} times, generation seeds {seeds} (outputs in repeat-K/); "
        "scores on the human-labelled test split.",
        "macro-F1: mean ± sd over the runs [95% interval resampling the runs and the test texts together, "
        f"{RESAMPLES:,} resamples]; vs teacher: the student's macro-F1 minus the teacher's line, mean ± sd over the "
        "runs [the same interval, paired with the teacher on the same texts], better or worse when it excludes 0; "
        "single runs said: each run's own paired bootstrap verdict.",
    ]
    report = render_repeats(rows, title=f"synthdistill: {config.task.name}, {repeats} runs", notes=notes)
    atomic_write_text(out / "repeats.json", json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(out / "repeats.md", report)
    return RepeatedRunSummary(runs, rows, report)


def resampled_runs(config: Config, folders: Sequence[Path]) -> dict[str, dict[RepeatKey, np.ndarray]]:
    """Each run folder's scores on the shared resampled test texts, from its predictions: "macro_f1" maps
    (language, classifier, train source) to [run, resample] macro-F1 (the teacher's line included), "vs_teacher"
    a student to its macro-F1 minus the teacher's on the same texts. A classifier any run lacks is left out."""
    labels = config.task.label_names
    found: dict[str, dict[RepeatKey, list[np.ndarray]]] = {"macro_f1": {}, "vs_teacher": {}}
    for language, data in load_datasets(config).items():
        gold = [e.label for e in data.test]
        draws = language_resampling(len(gold), seed=config.evaluation.seed, language=language)
        for folder in folders:
            records = [ResultRecord(**r) for r in json.loads((folder / TEACHER_RESULTS_FILE).read_text("utf-8"))]
            reference = teacher_reference([r for r in records if r.language == language])
            teacher = teacher_resampled(folder, reference, gold, labels, draws)
            if reference is not None and teacher is not None:
                key = (language, reference.classifier, reference.train_source)
                found["macro_f1"].setdefault(key, []).append(teacher["macro_f1"])
            for key, predicted in read_student_predictions(folder / STUDENT_PREDICTIONS_FILE).items():
                if key[0] == language and len(predicted) == len(gold):
                    student = resampled_scores(gold, predicted, labels, draws)["macro_f1"]
                    found["macro_f1"].setdefault(key, []).append(student)
                    if teacher is not None:
                        found["vs_teacher"].setdefault(key, []).append(student - teacher["macro_f1"])
    return {
        kind: {key: np.stack(arrays) for key, arrays in by_key.items() if len(arrays) == len(folders)}
        for kind, by_key in found.items()
    }


def predict(student_dir: str | Path, texts: Sequence[str]) -> list[dict]:
    """Labels and probabilities of a saved student for new texts (label None: the student named no label)."""
    student = load_student(student_dir)
    if not texts:
        return []
    rows = probability_rows(student.classes, student.predict_proba(list(texts)))
    return [{"text": text, **row} for text, row in zip(texts, rows, strict=True)]
