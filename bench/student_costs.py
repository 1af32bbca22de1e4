"""What each student costs on this machine, side by side in one run: training seconds on the paper's English
synthetic topic data (10 and 50 per class), prediction speed on the same 204 English test texts, and peak
memory, for every student of an experiment config (default: docs/results/paper-students, the grid's settings),
beside the embedded teacher classifying the same texts zero-shot. Each measurement runs in its own process, so
its peak memory is its own. The icl student with random selection shares one prompt prefix over all texts
(served from llama.cpp's prompt cache); nearest selection gives every text its own demonstrations.

Run: python bench/student_costs.py [--config docs/results/paper-students/experiment.yaml] [--per-class 10 50]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

CONFIG = HERE.parent / "docs" / "results" / "paper-students" / "experiment.yaml"
LANGUAGE, SEED, TEACHER = "en", 1337, "teacher (embedded, zero-shot label scoring)"


def measure(config_path: Path, student: str, per_class: int) -> dict[str, Any]:
    """Train one student (or run the teacher) and predict the test split, in this process."""
    from synthdistill.data import sample_per_label
    from synthdistill.experiments.config import load_experiment_config
    from synthdistill.experiments.planning import cell_examples, experiment_teacher, task_spec
    from synthdistill.students.registry import student_registry

    experiment = load_experiment_config(config_path)
    task = experiment.task_specs()[0]
    labels = tuple(task.labels)
    test = cell_examples(str(experiment.file(task, "test", LANGUAGE)), labels, LANGUAGE)
    texts = [e.text for e in test]
    the_task, teacher = task_spec(task, [LANGUAGE]), experiment_teacher(experiment)
    row: dict[str, Any] = {"student": student, "per_class": per_class, "n_test": len(texts)}
    with tempfile.TemporaryDirectory() as tmp:
        if student == TEACHER:
            from synthdistill.evaluation.teacher_classifier import classify_with_teacher
            from synthdistill.teachers import open_teacher

            active = open_teacher(teacher, Path(tmp) / "cache.sqlite", progress=False)
            try:
                started = time.perf_counter()
                classify_with_teacher(the_task, teacher.prompt_mode, active, LANGUAGE, texts)
                row["predict_seconds"] = time.perf_counter() - started
            finally:
                active.close()
        else:
            spec = next(s for s in experiment.students if s.display_name == student)
            pool = cell_examples(str(experiment.file(task, "synthetic", LANGUAGE)), labels, LANGUAGE)
            drawn = sample_per_label(pool, per_class, SEED)
            train = [e for label in labels for e in drawn.get(label, [])]
            model = student_registry()[spec.type].from_options(
                spec, task=the_task, teacher=teacher, language=LANGUAGE, seed=SEED, workdir=Path(tmp),
                run_name="costs",
            )  # fmt: skip
            started = time.perf_counter()
            model.fit([e.text for e in train], [e.label for e in train])
            row["fit_seconds"] = time.perf_counter() - started
            started = time.perf_counter()
            model.predict(texts)
            row["predict_seconds"] = time.perf_counter() - started
    row["texts_per_second"] = len(texts) / row["predict_seconds"]
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--per-class", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # STUDENT PER_CLASS, in a child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.config, args.one[0], int(args.one[1]))))
        return
    from synthdistill.experiments.config import load_experiment_config

    students = [s.display_name for s in load_experiment_config(args.config).students]
    runs = [(TEACHER, 0)] + [(student, k) for student in students for k in args.per_class]
    rows = []
    for student, per_class in runs:
        print(f"{time.strftime('%H:%M:%S')} {student} {per_class or ''}", flush=True)
        child = subprocess.run([sys.executable, __file__, "--config", str(args.config), "--one", student,
                                str(per_class)], capture_output=True, text=True)  # fmt: skip
        if child.returncode:
            print(child.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{student} failed")
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    lines = [
        "# What each student costs: training, prediction, memory",
        "",
        f"Machine: {bench_output.machine()}. Settings: `{args.config.parent.name}/{args.config.name}`. "
        f"Training: the paper's English synthetic topic data, {' and '.join(map(str, args.per_class))} per class "
        f"(seed {SEED}); prediction: the {rows[0]['n_test']} English test texts, measured once per row; peak "
        "memory of the row's own process (loading included). One run, all rows in sequence.",
        "",
        "| classifier | per class | training s | test texts/s | peak MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        fit = f"{row['fit_seconds']:,.1f}" if "fit_seconds" in row else "–"
        lines.append(
            f"| {row['student']} | {row['per_class'] or '–'} | {fit} | {row['texts_per_second']:,.1f} "
            f"| {row['peak_rss_mb']:,.0f} |"
        )
    bench_output.write_markdown("student_costs", lines)


if __name__ == "__main__":
    main()
