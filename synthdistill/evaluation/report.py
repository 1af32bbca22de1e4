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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def language_table(records: Sequence[ResultRecord]) -> str:
    """One Markdown table; the best macro-F1 in bold."""
    best = max((r.macro_f1 for r in records), default=0.0)
    rows = []
    for r in records:
        f1 = f"{r.macro_f1:.3f}"
        name = f"{r.classifier} ({r.setting})" if r.setting else r.classifier
        shown = f"**{f1}**" if r.macro_f1 == best else f1
        rows.append([name, r.train_source, str(r.n_train), shown, f"{r.accuracy:.3f}", f"{r.invalid_rate:.1%}"])
    headers = ["classifier", "train source", "n train", "macro-F1", "accuracy", "invalid"]
    return markdown_table(Table(headers, rows, [False, False, True, True, True, True]))


def render_report(records: Sequence[ResultRecord], *, title: str, notes: Sequence[str] = ()) -> str:
    parts = [f"# {title}", ""]
    parts += [f"- {note}" for note in notes]
    for language in dict.fromkeys(r.language for r in records):
        rows = [r for r in records if r.language == language]
        n_test = rows[0].n_test if rows else 0
        parts += [
            "",
            f"## {resolve_language(language).name} ({language}), {n_test} test texts",
            "",
            language_table(rows),
        ]
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
