"""Student quality on the paper's own data: each student trained on the paper's Llama-3-70B synthetic data
and on human data of the same size, topic task (SIB-200), all 11 languages, several N, 5 repeats.

Protocol of the paper: class-balanced random subsets (N per class), macro-F1 on the whole test split.
Reads ../shared/data/paper (or --data) by path. Writes bench/results/paper_topic_quality.{json,md}.
Run: python bench/paper_quality.py [--n 10 25 50] [--repeats 5] [--students tfidf embed]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

from synthdistill.config import EmbedStudentSpec
from synthdistill.data import read_examples, sample_per_label
from synthdistill.evaluation.scores import classification_scores
from synthdistill.students.embed import EmbeddingStudent
from synthdistill.students.tfidf import TfidfStudent

LANGUAGES = ["en", "de", "th", "he", "id", "sw", "ro", "az", "sl", "te", "cy"]
LOW_RESOURCE = {"ro", "az", "sl", "te", "cy"}


def build(student: str):
    if student == "tfidf":
        return TfidfStudent()
    return EmbeddingStudent(EmbedStudentSpec(encoder="e5-small", C=10.0), cache_path=HERE / ".cache/embeddings.sqlite")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/paper")
    parser.add_argument("--task", default="topic")
    parser.add_argument("--n", type=int, nargs="+", default=[10, 25, 50], help="training samples per class")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--students", nargs="+", default=["tfidf", "embed"])
    parser.add_argument("--languages", nargs="+", default=LANGUAGES)
    args = parser.parse_args()
    labels = json.loads((args.data / args.task / "labels.json").read_text())
    started = time.perf_counter()
    cells = []
    for language in args.languages:
        folder = args.data / args.task / language
        pools = {
            "synthetic": read_examples(folder / "synthetic.jsonl", labels, language=language),
            "human": read_examples(folder / "train.jsonl", labels, language=language),
        }
        test = read_examples(folder / "test.jsonl", labels, language=language)
        for student in args.students:
            for n in args.n:
                for source, pool in pools.items():
                    scores = []
                    sizes = []
                    for repeat in range(args.repeats):
                        chosen = sample_per_label(pool, max(2, n), seed=repeat)
                        rows = [e for label in labels for e in chosen.get(label, [])]
                        model = build(student).fit([e.text for e in rows], [e.label for e in rows])
                        predicted = model.predict([e.text for e in test])
                        scores.append(classification_scores([e.label for e in test], predicted, labels)["macro_f1"])
                        sizes.append(len(rows))
                    cell = {
                        "language": language, "student": student, "n_per_class": n, "source": source,
                        "n_train": round(statistics.mean(sizes)), "macro_f1_mean": round(statistics.mean(scores), 4),
                        "macro_f1_std": round(statistics.stdev(scores), 4) if len(scores) > 1 else 0.0,
                    }  # fmt: skip
                    cells.append(cell)
                    print(f"{language} {student:5s} N={n:3d}/class {source:9s}: macro-F1 {cell['macro_f1_mean']:.3f} "
                          f"± {cell['macro_f1_std']:.3f}", flush=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    machine = bench_output.machine()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    meta = {"machine": machine, "task": args.task, "repeats": args.repeats, "seconds": round(elapsed), "cells": cells}
    (out / f"paper_{args.task}_quality.json").write_text(json.dumps(meta, indent=1) + "\n")
    lines = [
        f"# Students on the paper's data: {args.task} (macro-F1, mean ± std over {args.repeats} repeats)", "",
        f"Machine: {machine}; {elapsed:.0f} s. Data: the paper's released human train pools, test splits and "
        "Llama-3-70B-Instruct synthetic data (`shared/data/paper`). N = training samples per class, drawn "
        "class-balanced at random with seeds 0 to repeats-1; embed = multilingual-e5-small + logistic regression.",
        "",
        "| language | student | " + " | ".join(f"N={n} synthetic | N={n} human" for n in args.n) + " |",
        "|---|---|" + "---:|" * (2 * len(args.n)),
    ]  # fmt: skip
    for language in args.languages:
        for student in args.students:
            row = []
            for n in args.n:
                for source in ("synthetic", "human"):
                    c = next(c for c in cells if (c["language"], c["student"], c["n_per_class"], c["source"])
                             == (language, student, n, source))  # fmt: skip
                    row.append(f"{c['macro_f1_mean']:.3f} ± {c['macro_f1_std']:.3f}")
            mark = " (low-resource)" if language in LOW_RESOURCE else ""
            lines.append(f"| {language}{mark} | {student} | " + " | ".join(row) + " |")
    (out / f"paper_{args.task}_quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
