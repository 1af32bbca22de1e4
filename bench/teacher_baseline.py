"""What the teacher's baseline costs, before and after issue #13: `synthdistill classify` on the shipped SIB-200
example (full dev and test splits, two languages, 0- and 1-shot with and without calibration) in fresh output
folders, the old way (4 llama.cpp slots, 4 requests in flight, every setting scored on test) and the new default
(one slot, one request at a time, only the setting chosen on dev scored on test), interleaved in one run.
Requests sent, wall time, and whether the teacher's line came out the same.

Run: python bench/teacher_baseline.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_output
from cli_rerun import timed_cli
from embedded_determinism import LANGUAGES, sliced_config

SETTINGS = {
    "before": ({"n_parallel": 4, "reproducible": False, "max_concurrency": 4}, {"teacher_test": "all"}),
    "after": ({}, {}),  # the defaults
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, int, dict[str, float]]]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        configs = {
            name: sliced_config(folder, name, teacher, samples_per_label=1, texts=None, evaluation=evaluation)
            for name, (teacher, evaluation) in SETTINGS.items()
        }
        for repeat in range(args.repeats):
            for name, config in configs.items():
                out = folder / f"out-{name}-{repeat}"
                seconds, _, stdout, _ = timed_cli(["classify", str(config), "--out", str(out), "--no-progress"])
                stats = next(line for line in stdout.splitlines() if line.startswith("teacher requests:"))
                sent = int(stats.split()[2])
                records = json.loads((out / "teacher_results.json").read_text())
                line = {r["language"]: r["macro_f1"] for r in records if r["classifier"] == "teacher-best-on-dev"}
                results[name].append((seconds, sent, line))
                print(f"{name} run {repeat + 1}: {seconds:.0f} s, {sent} requests, line {line}", flush=True)
    lines = [
        "# The teacher's baseline: cost before and after",
        "",
        f"Machine: {bench_output.machine()}. `synthdistill classify` on the shipped SIB-200 example, "
        f"{', '.join(LANGUAGES)}, full splits (99 dev and 204 test texts per language), teacher 0- and 1-shot with "
        f"and without calibration; fresh output folders, {args.repeats} runs each, interleaved. Before: 4 llama.cpp "
        "slots, 4 requests in flight, every setting scored on test. After: the defaults (one slot, one request at "
        "a time, only the setting chosen on dev scored on test). Mean (min to max).",
        "",
        "| setting | wall time | requests sent | teacher-best-on-dev macro-F1 per language (each run) |",
        "|---|---:|---:|---|",
    ]
    for name, runs in results.items():
        seconds = [r[0] for r in runs]
        lines.append(
            f"| {name} | {statistics.mean(seconds):.0f} s ({min(seconds):.0f} to {max(seconds):.0f}) | "
            f"{statistics.mean(r[1] for r in runs):.0f} | "
            + "; ".join(", ".join(f"{lang} {f1:.3f}" for lang, f1 in r[2].items()) for r in runs)
            + " |"
        )
    ratio = statistics.mean(r[0] for r in results["after"]) / statistics.mean(r[0] for r in results["before"])
    lines += ["", f"After / before wall time: {ratio:.2f}."]
    bench_output.write_markdown("teacher_baseline", lines)


if __name__ == "__main__":
    main()
