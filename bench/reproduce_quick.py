"""Wall time of the quick reproduction (`synthdistill reproduce --quick`) on this machine: the student cells,
the embedded teacher's line, the report; then the same command again, answered from the result store and
the teacher's request cache. Writes bench/results/reproduce_quick.md.

Run: python bench/reproduce_quick.py [--data ../shared/data/paper] [--workers 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

from synthdistill.experiments import runner as experiments
from synthdistill.experiments.executors import LocalExecutor
from synthdistill.experiments.reproduction import paper_experiment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/paper")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="default: a fresh temporary folder")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="reproduce-quick-"))
    config = paper_experiment(args.data, quick=True)
    phases: dict[str, float] = {}
    original_teacher_line = experiments.teacher_line

    def timed_teacher_line(*a: object, **k: object):  # the teacher's share of the wall time
        started = time.perf_counter()
        try:
            return original_teacher_line(*a, **k)
        finally:
            phases["teacher"] = time.perf_counter() - started

    experiments.teacher_line = timed_teacher_line
    started = time.perf_counter()
    first = experiments.run_experiment(config, out, executor=LocalExecutor(args.workers), progress=False)
    total = time.perf_counter() - started
    teacher_seconds = phases["teacher"]  # the re-run below times its own (cached) teacher line
    started = time.perf_counter()
    again = experiments.run_experiment(config, out, executor=LocalExecutor(args.workers), progress=False)
    rerun = time.perf_counter() - started
    tasks = ", ".join(t.name for t in config.task_specs())
    lines = [
        "# Quick reproduction: wall time",
        "",
        f"Machine: {bench_output.machine()}. Command: `synthdistill reproduce --data PAPER_DATA --quick` "
        f"(tasks {tasks}; {len(config.languages)} languages; {config.per_class_sizes} per class; "
        f"{config.repeats} repeats; students {', '.join(s.display_name for s in config.students)}; "
        f"sources synthetic and human; local executor, {LocalExecutor(args.workers).workers} workers).",
        "",
        "| phase | seconds |",
        "|---|---:|",
        f"| {first.ran} student cells (train + test), statistics and report | {total - teacher_seconds:.0f} |",
        f"| teacher line ({first.teacher_origin}) | {teacher_seconds:.0f} |",
        f"| whole first run | {total:.0f} |",
        f"| the same command again ({again.skipped} cells from the store, teacher from its cache) | {rerun:.1f} |",
    ]
    bench_output.write_markdown("reproduce_quick", lines)


if __name__ == "__main__":
    main()
