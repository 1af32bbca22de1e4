"""Inference throughput: texts per second of each student against the embedded teacher classifying the same
texts (zero-shot label scoring), on this machine, measured in one run. Goal: tfidf and embed at least
1,000x the teacher's throughput.

Run: python bench/inference.py [--teacher-texts 60] [--student-texts 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

from synthdistill.config import EmbedStudentSpec, parse_config
from synthdistill.data import read_examples
from synthdistill.evaluation.teacher_classifier import classify_with_teacher
from synthdistill.students.embed import EmbeddingStudent
from synthdistill.students.tfidf import TfidfStudent
from synthdistill.teachers import open_teacher


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE.parent / "examples/data/sib200")
    parser.add_argument("--language", default="eng_Latn")
    parser.add_argument("--teacher-texts", type=int, default=60)
    parser.add_argument("--student-texts", type=int, default=2000)
    args = parser.parse_args()
    labels = json.loads((args.data / "labels.json").read_text())
    folder = args.data / args.language
    train = read_examples(folder / "seed.jsonl", labels)
    test = [e.text for e in read_examples(folder / "test.jsonl", labels)] + [
        e.text for e in read_examples(folder / "dev.jsonl", labels)
    ]
    student_texts = (test * (args.student_texts // len(test) + 1))[: args.student_texts]
    student_texts = [f"{text} ({i})" for i, text in enumerate(student_texts)]  # distinct: no embedding reuse
    rates: dict[str, float] = {}
    students = {
        "tfidf": TfidfStudent(),
        "embed (e5-small)": EmbeddingStudent(EmbedStudentSpec(encoder="e5-small")),
        "embed (use-multilingual)": EmbeddingStudent(EmbedStudentSpec(encoder="use-multilingual")),
    }
    for name, student in students.items():
        student.fit([e.text for e in train], [e.label for e in train])
        student.predict(student_texts[:20])  # load the encoder before timing
        count = args.student_texts if name == "tfidf" else min(args.student_texts, 500)
        started = time.perf_counter()
        student.predict(student_texts[:count])
        rates[name] = count / (time.perf_counter() - started)
    config = parse_config({
        "task": {"name": "sib200", "domain": "sentences from Wikipedia-style articles, news and travel guides",
                 "label_kind": "topic", "languages": [args.language],
                 "labels": [{"name": label, "description": label} for label in labels]},
        "data": {"test": "-"},
    })  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        teacher = open_teacher(config.teacher, Path(tmp) / "cache.sqlite", progress=False)
        try:
            classify_with_teacher(
                config.task, config.teacher.prompt_mode, teacher, args.language, test[:4]
            )  # start the server, warm the prefix
            started = time.perf_counter()
            classify_with_teacher(
                config.task, config.teacher.prompt_mode, teacher, args.language, test[4 : 4 + args.teacher_texts]
            )
            rates["teacher (embedded Gemma 3 270M, zero-shot label scoring)"] = args.teacher_texts / (
                time.perf_counter() - started
            )
        finally:
            teacher.close()
    teacher_rate = rates["teacher (embedded Gemma 3 270M, zero-shot label scoring)"]
    machine = bench_output.machine()
    lines = [f"# Inference throughput ({machine}; SIB-200 {args.language} sentences)", "",
             "| classifier | texts/s | x teacher |", "|---|---:|---:|"]  # fmt: skip
    lines += [f"| {name} | {rate:,.1f} | {rate / teacher_rate:,.0f}x |" for name, rate in rates.items()]
    bench_output.write_markdown("inference", lines)


if __name__ == "__main__":
    main()
