"""The whole loop repeated: how much a verdict moves between runs that differ only in the generation seed.

Each classifier's macro-F1 over the runs gives a mean, its standard deviation and a 95% interval that resamples
the runs and the test texts together (the t-interval of the mean where no per-text predictions are given). Each
student's difference to the teacher's line gets a verdict by the rule of a single run,
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


def _summary(values: Sequence[float], resampled: np.ndarray | None = None, seed: int = 0) -> dict[str, Any]:
    """Mean and sd over the runs; the interval over runs and test texts when the resampled scores are given."""
    mean, std, low, high = mean_interval(values)
    if resampled is not None:
        low, high = interval(over_repeats(resampled, np.random.default_rng(seed)))
    return {"mean": round(mean, 4), "sd": round(std, 4), "ci": [round(low, 4), round(high, 4)]}


RepeatKey = tuple[str, str, str]  # language, classifier, train source


def summarise_repeats(
    runs: Sequence[Sequence[ResultRecord]],
    resampled: Mapping[str, Mapping[RepeatKey, np.ndarray]] | None = None,
    *,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per (language, classifier, train source) found in every run, in the first run's order.

    `resampled["macro_f1"][key][r, b]`: run r's macro-F1 on test resample b, and `resampled["vs_teacher"]` the
    same for a student minus the teacher; where given, an interval is `over_repeats` of it (runs drawn with
    `seed`), else the t-interval of the runs' values."""
    scores = (resampled or {}).get("macro_f1", {})
    differences = (resampled or {}).get("vs_teacher", {})
    keyed = [{(r.language, r.classifier, r.train_source): r for r in records} for records in runs]
    rows = []
    for key in keyed[0] if keyed else {}:
        found = [run[key] for run in keyed if key in run]
        if len(found) < len(keyed):
            continue  # a classifier missing from some run (a setting chosen differently) is not averaged
        row: dict[str, Any] = {
            "language": key[0], "classifier": key[1], "train_source": key[2], "runs": len(found),
            "n_train": [r.n_train for r in found],
            "macro_f1": {**_summary([r.macro_f1 for r in found], scores.get(key), seed),
                         "per_run": [r.macro_f1 for r in found]},
            "accuracy": _summary([r.accuracy for r in found]),
        }  # fmt: skip
        if all(r.vs_teacher for r in found):
            versus = _summary([float(r.vs_teacher["difference"]) for r in found], differences.get(key), seed)  # type: ignore[index]
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
    """repeats.md: per language, each classifier's mean ± sd over the runs with its 95% interval."""
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
        headers = ["classifier", "train source", "macro-F1 mean ± sd [95% CI]",
                   "vs teacher: mean difference ± sd [95% CI]", "single runs said"]  # fmt: skip
        parts.append(markdown_table(Table(headers, table, [False, False, True, True, False])))
    return "\n".join(parts) + "\n"
