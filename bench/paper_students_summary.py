"""The figures that docs/results/paper-students/README.md and the README's student section quote, read from the
grid's committed results.json and cells.jsonl, beside two chance lines on the same test splits (always the
commonest class; uniform random guesses, mean and spread over draws), so no quoted figure is hand-made.

Run: python bench/paper_students_summary.py [--results docs/results/paper-students] [--data ../shared/data/paper]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

from synthdistill.data import read_examples, read_json_file
from synthdistill.evaluation.scores import classification_scores

STUDENTS = ["lora", "finetune", "icl-nearest", "icl-random", "embed", "tfidf"]
LANGUAGES = ["en", "sw", "te", "cy"]


def _difference(point: dict) -> str:
    low, high = point["difference_ci"]
    return f"{point['mean']:.3f} ({point['difference']:+.3f} [{low:+.3f}, {high:+.3f}])"


def _group_table(points: dict, sizes: list[int], classes: int) -> list[str]:
    """Each student and source in the mean of all languages and of the low-resource ones, against the teacher."""
    header = [f"{group}, {n // classes} per class" for group in ("all", "low-resource") for n in sizes]
    lines = ["| student | trained on | " + " | ".join(header) + " |", "|---|---|" + "---:|" * len(header)]
    for student in STUDENTS:
        for source in ("synthetic", "human"):
            cells = [_difference(points[(g, student, source, n)]) for g in ("all", "low-resource") for n in sizes]
            lines.append(f"| {student} | {source} | " + " | ".join(cells) + " |")
    return lines


def _language_table(points: dict, teacher: dict[str, float], sizes: list[int], classes: int) -> list[str]:
    """The README's table: each language on the smallest synthetic N, then the four-language mean."""
    small, large = sizes[0], sizes[-1]
    lines = [
        f"| on {small // classes} synthetic sentences per class | "
        + " | ".join(LANGUAGES)
        + f" | all four, minus the teacher [95%] | all four, {large // classes} per class |",
        "|---|" + "---:|" * (len(LANGUAGES) + 2),
        "| the embedded teacher, zero-shot | "
        + " | ".join(f"{teacher[lang]:.3f}" for lang in LANGUAGES)
        + f" | {teacher['all']:.3f} | {teacher['all']:.3f} |",
    ]
    for student in STUDENTS:
        scores = " | ".join(f"{points[(lang, student, 'synthetic', small)]['mean']:.3f}" for lang in LANGUAGES)
        mean = _difference(points[("all", student, "synthetic", small)])
        lines.append(
            f"| `{student}` | {scores} | {mean} | {points[('all', student, 'synthetic', large)]['mean']:.3f} |"
        )
    return lines


def _chance_lines(data: Path, task: str, labels: list[str], draws: int) -> list[str]:
    """Macro-F1 of always answering the commonest test class, and of uniform random guesses over `draws` draws."""
    rng = random.Random(1337)
    lines = ["| language | test texts | commonest class | uniform random, mean ± std |", "|---|---:|---:|---:|"]
    for lang in LANGUAGES:
        gold = [e.label for e in read_examples(data / task / lang / "test.jsonl", labels)]
        commonest = Counter(gold).most_common(1)[0][0]
        majority = classification_scores(gold, [commonest] * len(gold), labels)["macro_f1"]
        guesses = [
            classification_scores(gold, [rng.choice(labels) for _ in gold], labels)["macro_f1"] for _ in range(draws)
        ]
        spread = f"{statistics.mean(guesses):.3f} ± {statistics.stdev(guesses):.3f}"
        lines.append(f"| {lang} | {len(gold)} | {majority:.3f} | {spread} |")
    return lines


def _cell_hours(cells_path: Path) -> list[str]:
    """Training plus prediction time of every cell, per student, as the cells recorded it."""
    hours: dict[str, float] = defaultdict(float)
    with cells_path.open(encoding="utf-8") as cells:
        for line in cells:
            row = json.loads(line)
            hours[row["student"]] += ((row["fit_seconds"] or 0) + (row["predict_seconds"] or 0)) / 3600
    ordered = sorted(hours.items(), key=lambda item: -item[1])
    return [
        f"Cell-hours of training and prediction: {sum(hours.values()):.1f} in all; "
        + ", ".join(f"{student} {value:.2f}" for student, value in ordered)
        + "."
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE.parent / "docs" / "results" / "paper-students")
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "paper")
    parser.add_argument("--task", default="topic")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()

    results = read_json_file(args.results / "results.json", "experiment results")
    points = {(p["language"], p["student"], p["source"], p["n"]): p for p in results["points"]}
    teacher = {row["language"]: row["macro_f1"] for row in results["teacher"]}
    sizes = sorted({p["n"] for p in results["points"]})
    labels = read_json_file(args.data / args.task / "labels.json", "labels")
    bench_output.write_markdown(
        "paper_students_summary",
        [
            "# The paper's students grid: the figures its README quotes",
            "",
            f"From `{args.results.name}/results.json` and `cells.jsonl` (the grid's report); chance lines on the "
            f"test splits of `{args.task}` ({len(labels)} labels), {args.draws} random draws, seed 1337. "
            f"Machine of this summary: {bench_output.machine()}.",
            "",
            "## Test macro-F1, mean of repeats (student minus teacher [95% bootstrap over repeats and test texts])",
            "",
            *_group_table(points, sizes, len(labels)),
            "",
            "## Per language on the smallest synthetic N",
            "",
            *_language_table(points, teacher, sizes, len(labels)),
            "",
            "## Chance lines on the same test splits",
            "",
            *_chance_lines(args.data, args.task, labels, args.draws),
            "",
            *_cell_hours(args.results / "cells.jsonl"),
        ],
    )


if __name__ == "__main__":
    main()
