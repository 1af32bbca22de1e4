"""The experiment YAML: a grid of tasks x languages x training sizes x students x data sources x repeats.

A task is either a name under `data` in the paper's layout (`<data>/<task>/labels.json`,
`<data>/<task>/<lang>/{train,synthetic,test}.jsonl`), or a mapping that names its files with `{lang}`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from synthdistill.config import (
    EvaluationSpec,
    StudentSpec,
    TeacherSpec,
    TfidfStudentSpec,
    _Strict,
    check_languages,
    read_yaml_mapping,
    validate_model,
)
from synthdistill.data import data_source, read_json_file
from synthdistill.errors import DataError

MIXED = "mixed"  # the paper's mix, the same as human+synthetic
POOLS = ("human", "synthetic")
PIVOT = "pivot:"
PAPER_LANGUAGES = ["en", "de", "th", "he", "id", "sw", "ro", "az", "sl", "te", "cy"]
PAPER_LOW_RESOURCE = ["ro", "az", "sl", "te", "cy"]


class ExperimentTaskSpec(_Strict):
    name: str = Field(min_length=1, description="the task's name in reports and cell keys")
    labels: list[str] | str = Field(description="label names, or a JSON file holding the list")
    domain: str = Field("texts", description="one phrase: what the texts are (the teacher's prompts use it)")
    text_kind: str = Field("text", description="what one example is called in the teacher's prompts")
    label_kind: str = Field("label", description="what a label is called in the teacher's prompts, e.g. topic")
    human: str | None = Field(None, description="human-labelled training pool, {lang} for the language")
    synthetic: str | None = Field(None, description="synthetic training pool, {lang} for the language")
    test: str = Field(description="human-labelled test data, {lang} for the language")
    dev: str | None = Field(None, description="human dev data: picks the teacher's best setting")


class TeacherReferenceSpec(_Strict):
    """Where the teacher's line comes from: a results file, or a teacher run here (`model`)."""

    results: str | None = Field(None, description="JSON list of rows with task, language, macro_f1 (classifier)")
    classifier: str | None = Field(None, description="which classifier's rows to take from `results`")
    model: TeacherSpec | None = Field(None, description="a teacher to run on the test data (default: embedded)")
    dev_per_class: int | None = Field(
        None, ge=1, description="with no dev file: draw this many human examples per label as the dev split"
    )
    evaluation: EvaluationSpec = Field(
        default_factory=lambda: EvaluationSpec(teacher_calibration=False),
        description="the teacher's settings; with a dev split the best on dev is the line",
    )


class ExperimentConfig(_Strict):
    name: str = Field("experiment", min_length=1, description="the report's title")
    data: str | None = Field(None, description="root of data in the paper's layout, for tasks given by name")
    tasks: list[str | ExperimentTaskSpec] = Field(min_length=1)
    languages: list[str] = Field(min_length=1, description="codes; {lang} in data paths becomes each")
    low_resource: list[str] = Field(
        default_factory=lambda: list(PAPER_LOW_RESOURCE), description="the languages of the low-resource group"
    )
    sizes: list[int] | None = Field(
        None, min_length=1, description="N: total training samples; max(2, N // classes) per class"
    )
    per_class_sizes: list[int] | None = Field(
        None, min_length=1, description="instead of sizes: samples per class (N = this x classes, per task)"
    )
    sources: list[str] = Field(
        default_factory=lambda: ["synthetic", "human"],
        min_length=1,
        description="synthetic, human, pivot:LANG (LANG's synthetic data for every language), or parts joined by + "
        "in equal shares (synthetic+pivot:en); mixed: human+synthetic",
    )
    repeats: int = Field(5, ge=1, description="samples drawn per cell; intervals come from them")
    seed: int = Field(1337, description="repeat r samples with seed + r")
    students: list[StudentSpec] = Field(default_factory=lambda: [TfidfStudentSpec()], min_length=1)
    teacher: TeacherReferenceSpec | None = Field(default_factory=TeacherReferenceSpec)
    base_dir: Path = Field(Path("."), exclude=True)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: list[str]) -> list[str]:
        return check_languages(languages)

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, sources: list[str]) -> list[str]:
        for source in sources:
            source_parts(source)
        if len(set(sources)) != len(sources):
            raise ValueError("sources must be unique")
        return sources

    @field_validator("sizes", "per_class_sizes")
    @classmethod
    def _positive_sizes(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is not None and any(n < 1 for n in sizes):
            raise ValueError("sizes must be >= 1")
        return None if sizes is None else sorted(set(sizes))

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        if any(isinstance(t, str) for t in self.tasks) and self.data is None:
            raise ValueError("tasks given by name need `data`, the folder that holds them")
        if (self.sizes is None) == (self.per_class_sizes is None):
            raise ValueError("give exactly one of sizes (N in total) and per_class_sizes")
        names = [s.display_name for s in self.students]
        if len(set(names)) != len(names):
            raise ValueError("students need distinct names (set `name:`)")
        return self

    def grid(self, n_classes: int) -> list[tuple[int, int]]:
        """(N, samples per class) for a task with this many classes, by the paper's protocol."""
        if self.per_class_sizes is not None:
            return [(k * n_classes, k) for k in self.per_class_sizes]
        return [(n, max(2, n // n_classes)) for n in self.sizes or []]

    def path(self, template: str) -> Path:
        return data_source(template, self.base_dir)

    def task_specs(self) -> list[ExperimentTaskSpec]:
        """Every task as a full spec, paper-layout names expanded; label files read."""
        specs = []
        for task in self.tasks:
            if isinstance(task, str):
                root = self.path(self.data or ".") / task
                task = ExperimentTaskSpec(
                    name=task, labels=str(root / "labels.json"), human=str(root / "{lang}/train.jsonl"),
                    synthetic=str(root / "{lang}/synthetic.jsonl"), test=str(root / "{lang}/test.jsonl"),
                )  # fmt: skip
            if isinstance(task.labels, str):
                task = task.model_copy(update={"labels": _read_labels(self.path(task.labels))})
            specs.append(task)
        return specs

    def file(self, task: ExperimentTaskSpec, split: str, language: str) -> Path | None:
        template = getattr(task, split)
        return None if template is None else self.path(template.replace("{lang}", language))


def source_parts(source: str) -> list[str]:
    """The pools a source draws on, in order: "synthetic+pivot:en" -> ["synthetic", "pivot:en"]. A ValueError
    says what is wrong with one that is not a source."""
    parts = list(POOLS) if source == MIXED else source.split("+")
    for part in parts:
        if part.startswith(PIVOT):
            check_languages([part.removeprefix(PIVOT)])
        elif part not in POOLS:
            raise ValueError(
                f"unknown source {source!r}: give synthetic, human, mixed, pivot:LANG, or parts joined by + "
                "(e.g. synthetic+pivot:en)"
            )
    if len(set(parts)) != len(parts):
        raise ValueError(f"source {source!r} names a part twice")
    return parts


def pivot_language(part: str) -> str | None:
    """The language of a `pivot:LANG` part, None for a pool of the target language itself."""
    return part.removeprefix(PIVOT) if part.startswith(PIVOT) else None


def _read_labels(path: Path) -> list[str]:
    labels = read_json_file(path, "label")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
        raise DataError(f"{path}: expected a JSON list of two or more label names")
    return labels


def load_experiment_config(path: str | Path) -> ExperimentConfig:
    raw = read_yaml_mapping(path, what="tasks, languages, sizes, students, ...")
    return parse_experiment_config(raw, source=str(path), base_dir=Path(path).resolve().parent)


def parse_experiment_config(raw: dict, source: str = "<experiment>", base_dir: Path | None = None) -> ExperimentConfig:
    return validate_model(ExperimentConfig, raw, source, base_dir)
