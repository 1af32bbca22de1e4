"""results.json and report.md: teacher and students side by side, one table per language."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthdistill.data import atomic_write_text
from synthdistill.evaluation.tables import Table, markdown_table
from synthdistill.languages import resolve_language


@dataclass
class ResultRecord:
    task: str
    language: str
    classifier: str  # teacher-0shot, teacher-7shot, tfidf, ...
    train_source: str  # synthetic, human or none
    n_train: int
    n_test: int
    macro_f1: float
    accuracy: float
    invalid_rate: float = 0.0
    per_label_f1: dict[str, float] = field(default_factory=dict)
    model: str | None = None  # the teacher's model, or the saved student's folder
    setting: str | None = None  # for the teacher's best setting: which one the dev split chose
    dev_macro_f1: float | None = None  # the teacher's settings: macro-F1 on the human dev split
    dev_settings: dict[str, float] | None = None  # teacher-best-on-dev: every setting's dev macro-F1, the choice's
    macro_f1_ci: list[float] | None = None  # 95% bootstrap interval over the test texts
    accuracy_ci: list[float] | None = None
    vs_teacher: dict[str, Any] | None = None  # a student against the teacher's line: difference, interval, verdict
    data_source: str | None = None  # a student's data: in_language, pivot:en, translate:en, seed+mixed:..., seed
    source_choice: dict[str, Any] | None = None  # source auto: every candidate's dev macro-F1, the choice, why
    n_reviewed: int | None = None  # a student's training samples that a person decided on (review.jsonl)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _with_interval(value: float, ci: Sequence[float] | None, signed: bool = False) -> str:
    number = "{:+.3f}" if signed else "{:.3f}"
    shown = number.format(value)
    return f"{shown} [{number.format(ci[0])}, {number.format(ci[1])}]" if ci else shown


def _versus_teacher(record: ResultRecord) -> str:
    versus = record.vs_teacher
    if not versus:
        return ""
    return f"{_with_interval(versus['difference'], versus['ci'], signed=True)} {versus['verdict']}"


def language_table(records: Sequence[ResultRecord]) -> str:
    """One Markdown table with 95% intervals and each student against the teacher; the best macro-F1 in bold."""
    best = max((r.macro_f1 for r in records), default=0.0)
    rows = []
    for r in records:
        f1 = _with_interval(r.macro_f1, r.macro_f1_ci)
        name = f"{r.classifier} ({r.setting})" if r.setting else r.classifier
        shown = f"**{f1}**" if r.macro_f1 == best else f1
        source = (
            f"{r.train_source} ({r.data_source})" if r.data_source and r.train_source != "human" else r.train_source
        )
        rows.append([name, source, str(r.n_train), shown, _with_interval(r.accuracy, r.accuracy_ci),
                     f"{r.invalid_rate:.1%}", _versus_teacher(r)])  # fmt: skip
    headers = ["classifier", "train source", "n train", "macro-F1 [95% CI]", "accuracy [95% CI]", "invalid",
               "vs teacher [95% CI]"]  # fmt: skip
    return markdown_table(Table(headers, rows, [False, False, True, True, True, True, True]))


def verdict_lines(records: Sequence[ResultRecord]) -> list[str]:
    """The first lines of a language's section: which students beat the teacher, which cannot be told apart from
    it, which are worse, each at 95% on the same test texts."""
    compared = [r for r in records if r.vs_teacher]
    if not compared:
        return []
    teacher = compared[0].vs_teacher["teacher"]  # type: ignore[index]
    reference = next((r for r in records if r.classifier == teacher), None)
    against = f"{teacher} ({_with_interval(reference.macro_f1, reference.macro_f1_ci)})" if reference else teacher
    groups: dict[str, list[str]] = {"better": [], "not distinguishable": [], "worse": []}
    for r in compared:
        versus = r.vs_teacher or {}
        groups[versus["verdict"]].append(f"{r.classifier} on {r.train_source} ({versus['difference']:+.3f})")
    lines = [f"Students against {against}, paired 95% bootstrap over the test texts:"]
    lines.append(f"- beat the teacher: {', '.join(groups['better']) or 'none'}")
    if groups["not distinguishable"]:
        lines.append(f"- not distinguishable from it: {', '.join(groups['not distinguishable'])}")
    if groups["worse"]:
        lines.append(f"- worse than it: {', '.join(groups['worse'])}")
    return lines


def dev_settings_line(records: Sequence[ResultRecord]) -> str | None:
    """How the teacher's line was chosen: every setting's macro-F1 on the dev split, the chosen one in bold."""
    best = next((r for r in records if r.dev_settings), None)
    if best is None or not best.dev_settings:
        return None
    shown = [f"**{name} {score:.3f}**" if name == best.setting else f"{name} {score:.3f}"
             for name, score in best.dev_settings.items()]  # fmt: skip
    return f"Teacher settings on the dev split (macro-F1; the best is the teacher's line): {', '.join(shown)}"


def source_choice_lines(records: Sequence[ResultRecord]) -> list[str]:
    """For students whose source was auto: what each candidate scored on the dev split and why one was kept."""
    lines = []
    for r in records:
        choice = r.source_choice
        if not choice:
            continue
        scores = ", ".join(
            f"**{c['source']} {c['dev_macro_f1']:.3f}**" if c["source"] == choice["chosen"]
            else f"{c['source']} {c['dev_macro_f1']:.3f}" if c["dev_macro_f1"] is not None
            else f"{c['source']} ({c['note']})" for c in choice["candidates"]
        )  # fmt: skip
        lines.append(f"- {r.classifier}: {choice['chosen']}, {choice['reason']}. Dev macro-F1: {scores}")
    return ["", "Sources chosen on the dev split (source: auto):", "", *lines] if lines else []


def render_report(records: Sequence[ResultRecord], *, title: str, notes: Sequence[str] = ()) -> str:
    parts = [f"# {title}", ""]
    parts += [f"- {note}" for note in notes]
    for language in dict.fromkeys(r.language for r in records):
        rows = [r for r in records if r.language == language]
        n_test = rows[0].n_test if rows else 0
        parts += ["", f"## {resolve_language(language).name} ({language}), {n_test} test texts", ""]
        verdicts = verdict_lines(rows)
        parts += [*verdicts, ""] if verdicts else []
        parts.append(language_table(rows))
        chosen = dev_settings_line(rows)
        parts += ["", chosen] if chosen else []
        parts += source_choice_lines(rows)
    return "\n".join(parts) + "\n"


def write_results(
    directory: str | Path, records: Sequence[ResultRecord], *, title: str, notes: Sequence[str] = ()
) -> str:
    """Write results.json and report.md; return the report's text."""
    directory = Path(directory)
    report = render_report(records, title=title, notes=notes)
    atomic_write_text(
        directory / "results.json",
        json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=1) + "\n",
    )
    atomic_write_text(directory / "report.md", report)
    return report
