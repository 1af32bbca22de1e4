"""Training time and peak memory of each student at N = 10, 50, 200 samples per class, each fit in a fresh
process (peak resident memory of that process, which includes loading the encoder).

Reads the paper's English topic synthetic data (../shared/data/paper or --data).
Run: python bench/training.py [--n 10 50 200] [--students tfidf embed icl]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from synthdistill.config import parse_config
from synthdistill.data import read_examples, sample_per_label
from synthdistill.students.registry import student_registry
labels = json.loads(open({labels!r}).read())
pool = read_examples({pool!r}, labels)
chosen = sample_per_label(pool, {n}, seed=0)
rows = [e for label in labels for e in chosen.get(label, [])]
task = {{"name": "topic", "domain": "news", "labels": [{{"name": l, "description": l}} for l in labels],
        "languages": [{language!r}]}}
config = parse_config({{"task": task, "data": {{"test": "-"}}, "students": [{{"type": {kind!r}}}]}})
started = time.perf_counter()
student = student_registry()[{kind!r}].from_options(config.students[0], task=config.task, teacher=config.teacher,
                                                  language={language!r}, seed=0, workdir=Path({workdir!r}))
student.fit([e.text for e in rows], [e.label for e in rows])
elapsed = time.perf_counter() - started
print(json.dumps({{"n_train": len(rows), "seconds": elapsed,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/paper/topic")
    parser.add_argument("--language", default="en")
    parser.add_argument("--n", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--students", nargs="+", default=["tfidf", "embed"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.students:
            for n in args.n:  # each student's working folder (embed: its embedding cache) shared across N
                code = CHILD.format(root=str(HERE.parent), labels=str(args.data / "labels.json"),
                                    pool=str(args.data / args.language / "synthetic.jsonl"), n=n, kind=kind,
                                    language=args.language, workdir=str(Path(tmp) / kind))  # fmt: skip
                result = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                   check=True).stdout.strip().splitlines()[-1])  # fmt: skip
                rows.append({"student": kind, "n_per_class": n, **result})
                print(
                    f"{kind:6s} N={n:3d}/class (n={result['n_train']}): {result['seconds']:.2f} s, "
                    f"peak {result['peak_mib']:.0f} MiB",
                    flush=True,
                )
    machine = bench_output.machine()
    lines = [f"# Training time and peak memory ({machine}; paper topic data, {args.language}, synthetic)", "",
             "Each fit runs in a fresh process; embed's time includes embedding every training text once "
             "(a fresh cache) and its memory includes the encoder.", "",
             "| student | N per class | n train | fit seconds | peak MiB |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r['student']} | {r['n_per_class']} | {r['n_train']} | {r['seconds']:.2f} | {r['peak_mib']:.0f} |"
              for r in rows]  # fmt: skip
    bench_output.write_markdown("training", lines)


if __name__ == "__main__":
    main()
