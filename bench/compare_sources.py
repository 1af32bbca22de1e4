"""Which training data is better, source against source, in a finished experiment: per task, student, N and
language (and language group), each source's mean macro-F1 minus the baseline source's, with the experiment's
one rule over repeats and test texts (each repeat paired with the baseline's repeat of the same seed, both
scored on the same resampled test texts; groups average their languages on each draw). Better or worse when
the 95% interval of the difference excludes 0.

Run: python bench/compare_sources.py RUN_DIR [--config EXPERIMENT.yaml] [--baseline synthetic] [--student embed]
[--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from synthdistill.evaluation.intervals import interval, language_resampling, over_repeats, resampled_macro_f1, verdict
from synthdistill.experiments.config import load_experiment_config
from synthdistill.experiments.planning import cell_examples
from synthdistill.experiments.runner import language_groups


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path, help="an experiment's output folder (cells.jsonl, experiment.yaml)")
    parser.add_argument("--baseline", default="synthetic")
    parser.add_argument("--student", default="embed")
    parser.add_argument("--out", type=Path, help="write the Markdown here too")
    parser.add_argument("--config", type=Path, help="the experiment YAML (default: RUN_DIR/experiment.yaml)")
    args = parser.parse_args()
    experiment = load_experiment_config(args.config or args.run / "experiment.yaml")
    rows = [json.loads(line) for line in (args.run / "cells.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["student"] == args.student]
    rng = np.random.default_rng(experiment.seed)
    groups = language_groups(experiment)
    lines = [
        f"# Sources against {args.baseline}: {args.student} student, {args.run}",
        "",
        f"Mean macro-F1 of each source minus {args.baseline}'s, over {experiment.repeats} repeats (paired by seed) "
        "[95% interval over repeats and test texts]; ▲ better, ▼ worse when the interval excludes 0.",
    ]
    for task in experiment.task_specs():
        labels = list(task.labels)
        per: dict[tuple[str, str, int], np.ndarray] = {}  # (language, source, n) -> [repeat, resample]
        point: dict[tuple[str, str, int], list[float]] = {}  # the same, each repeat's macro-F1 on the whole split
        for language in experiment.languages:
            gold = [
                e.label for e in cell_examples(str(experiment.file(task, "test", language)), tuple(labels), language)
            ]
            draws = language_resampling(len(gold), seed=experiment.seed, language=language)
            mine = sorted((r for r in rows if r["task"] == task.name and r["language"] == language),
                          key=lambda r: (r["source"], r["n"], r["repeat"]))  # fmt: skip
            scores = resampled_macro_f1(
                gold, [[labels[j] if j >= 0 else None for j in r["predicted"]] for r in mine], labels, draws
            )
            for row, values in zip(mine, scores, strict=True):
                per.setdefault((language, row["source"], row["n"]), []).append(values)  # type: ignore[arg-type]
                point.setdefault((language, row["source"], row["n"]), []).append(row["macro_f1"])
        per = {key: np.stack(values) for key, values in per.items()}
        sources = [s for s in experiment.sources if s != args.baseline]
        sizes = sorted({n for _, _, n in per})
        header = "| language | " + " | ".join(f"{s}, N={n}" for s in sources for n in sizes) + " |"
        lines += ["", f"## {task.name}", "", header, "|---" + "|---:" * (len(sources) * len(sizes)) + "|"]
        panels = {language: [language] for language in experiment.languages} | groups
        for panel, members in panels.items():
            cells = []
            for source in sources:
                for n in sizes:
                    keys = [(m, source, n) for m in members]
                    if not all(k in per and (k[0], args.baseline, n) in per for k in keys):
                        cells.append("")
                        continue
                    difference = np.mean([per[m, source, n] - per[m, args.baseline, n] for m in members], axis=0)
                    drawn = over_repeats(difference, rng)
                    ci = interval(drawn)
                    mark = {"better": " ▲", "worse": " ▼"}.get(verdict(ci), "")
                    mean = np.mean(
                        [np.mean(point[m, source, n]) - np.mean(point[m, args.baseline, n]) for m in members]
                    )
                    cells.append(f"{mean:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]{mark}")
            lines.append(f"| {panel} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
