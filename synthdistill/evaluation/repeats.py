"""The whole loop repeated: how much a verdict moves between runs that differ only in the generation seed.

Each classifier's macro-F1 over the runs gives a mean, its standard deviation and the 95% interval of the mean
(t-distribution). Each student's difference to the teacher's line gets a verdict by the rule of a single run,
widened to the runs: the 95% interval resamples the runs and the test texts together (paired with the teacher on
the same texts), so neither a lucky run nor a lucky test set decides it; beside it, how many single runs said
better or worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synthdistill.evaluation.intervals import interval, mean_interval, over_repeats, verdict
from synthdistill.evaluation.report import ResultRecord
from synthdistill.evaluation.tables import Table, markdown_table
from synthdistill.languages import resolve_language


def _summary(values: Sequence[float]) -> dict[str, Any]:
    mean, std, low, high = mean_interval(values)
    return {"mean": round(mean, 4), "sd": round(std, 4), "ci": [round(low, 4), round(high, 4)]}


RepeatKey = tuple[str, str, str]  # language, classifier, train source


def summarise_repeats(
    runs: Sequence[Sequence[ResultRecord]], paired: Mapping[RepeatKey, np.ndarray] | None = None, *, seed: int = 0
) -> list[dict[str, Any]]:
    """One row per (language, classifier, train source) found in every run, in the first run's order.

    `paired[key][r, b]`: run r's student-minus-teacher macro-F1 on test resample b; where given, the verdict's
    interval is `over_repeats` of it (drawn with `seed`), else the t-interval of the runs' differences."""
    keyed = [{(r.language, r.classifier, r.train_source): r for r in records} for records in runs]
    rows = []
    for key in keyed[0] if keyed else {}:
        found = [run[key] for run in keyed if key in run]
        if len(found) < len(keyed):
            continue  # a classifier missing from some run (a setting chosen differently) is not averaged
        row: dict[str, Any] = {
            "language": key[0], "classifier": key[1], "train_source": key[2], "runs": len(found),
            "n_train": [r.n_train for r in found],
            "macro_f1": {**_summary([r.macro_f1 for r in found]), "per_run": [r.macro_f1 for r in found]},
            "accuracy": _summary([r.accuracy for r in found]),
        }  # fmt: skip
        if all(r.vs_teacher for r in found):
            differences = [float(r.vs_teacher["difference"]) for r in found]  # type: ignore[index]
            versus = _summary(differences)
            if paired is not None and key in paired and len(found) > 1:
                versus["ci"] = interval(over_repeats(paired[key], np.random.default_rng(seed)))
            verdicts = [str(r.vs_teacher["verdict"]) for r in found]  # type: ignore[index]
            row["vs_teacher"] = {
                "teacher": found[0].vs_teacher["teacher"],  # type: ignore[index]
                **versus,
                "verdict": verdict(versus["ci"]) if len(found) > 1 else verdicts[0],
                "per_run": {name: verdicts.count(name) for name in ("better", "not distinguishable", "worse")},
            }
        rows.append(row)
    return rows


def _mean_sd(summary: dict[str, Any], signed: bool = False) -> str:
    number = "{:+.3f}" if signed else "{:.3f}"
    low, high = summary["ci"]
    return f"{number.format(summary['mean'])} ± {summary['sd']:.3f} [{number.format(low)}, {number.format(high)}]"


def render_repeats(rows: Sequence[dict[str, Any]], *, title: str, notes: Sequence[str] = ()) -> str:
    """repeats.md: per language, each classifier's mean ± sd over the runs with the 95% interval of the mean."""
    parts = [f"# {title}", "", *(f"- {note}" for note in notes)]
    for language in dict.fromkeys(row["language"] for row in rows):
        mine = [row for row in rows if row["language"] == language]
        parts += ["", f"## {resolve_language(language).name} ({language}), {mine[0]['runs']} runs", ""]
        table = []
        for row in mine:
            versus = row.get("vs_teacher")
            runs = versus["per_run"] if versus else {}
            said = ", ".join(f"{count} {name}" for name, count in runs.items() if count)
            table.append([
                row["classifier"], row["train_source"], _mean_sd(row["macro_f1"]),
                f"{_mean_sd(versus, signed=True)} {versus['verdict']}" if versus else "", said,
            ])  # fmt: skip
        headers = ["classifier", "train source", "macro-F1 mean ± sd [95% CI of the mean]",
                   "vs teacher: mean difference ± sd [95% CI]", "single runs said"]  # fmt: skip
        parts.append(markdown_table(Table(headers, table, [False, False, True, True, False])))
    return "\n".join(parts) + "\n"
