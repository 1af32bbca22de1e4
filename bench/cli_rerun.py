"""What a user runs, end to end: `synthdistill generate` through the CLI on 10,000 and 100,000 samples against an
instant local OpenAI-compatible server (every answer a different sentence), then the same command again, answered
from the request cache. Wall time and peak resident memory of the CLI process, per job size, so growth faster
than linear shows. Goal: the cached re-run of 100,000 samples in under 5 s and 500 MB.

Run: python bench/cli_rerun.py [--sizes 10000 100000] [--repeats 3] [--filters exact|all]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output
import instant_server

LABELS = 10


def job_config(url: str, n: int, filters: str) -> dict:
    labels = [{"name": f"label{i}", "description": f"texts of kind {i}"} for i in range(LABELS)]
    exact_only = {"language_id": False, "near_duplicate_threshold": None}
    return {
        "task": {"name": "bench", "domain": "benchmark texts", "labels": labels, "languages": ["en"]},
        "teacher": {"backend": "openai", "base_url": url, "model": "m", "mode": "completion", "max_concurrency": 64},
        "generation": {"samples_per_label": n // LABELS, "demos_per_prompt": 0},
        "filters": exact_only if filters == "exact" else {},
        "data": {"test": "test.jsonl"},
    }


def timed_cli(arguments: list[str]) -> tuple[float, float, str, float]:
    """Wall seconds, peak resident MB, standard output and CPU seconds (user + system) of one CLI process (its
    own rusage, via wait4): CPU time hardly moves when other programs share the cores, wall time does."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "synthdistill.cli", *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"synthdistill {' '.join(arguments)} failed:\n{err.decode()}")
    return elapsed, usage.ru_maxrss / 1024, out.decode(), usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3, help="cached re-runs per size")
    parser.add_argument("--filters", choices=["exact", "all"], default="exact",
                        help="exact: exact duplicates only (no language ID); all: the default filters")  # fmt: skip
    args = parser.parse_args()
    server, url = instant_server.start(varied=True)
    rows = []
    try:
        for n in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                (folder / "test.jsonl").write_text(json.dumps({"text": "a test text", "label": "label0"}) + "\n")
                config = folder / "job.yaml"
                config.write_text(yaml.safe_dump(job_config(url, n, args.filters)))
                command = ["generate", str(config), "--out", str(folder / "out"), "--no-progress"]
                first, first_mb, output, _ = timed_cli(command)
                kept = output.split(" synthetic samples", 1)[0]
                again = [timed_cli(command) for _ in range(args.repeats)]
                assert all(" 0 sent" in out for _, _, out, _ in again), "the re-run sent requests"
                times, mbs, cpus = [a[0] for a in again], [a[1] for a in again], [a[3] for a in again]
                rows.append((n, kept, first, first_mb, times, mbs, cpus))
                print(f"{n}: first run {first:.1f} s, {first_mb:.0f} MB; re-runs {times} s, CPU {cpus} s")
    finally:
        server.terminate()
    lines = [
        f"# CLI generate: first run and cached re-run ({args.filters} filters)",
        "",
        f"Machine: {bench_output.machine()}; an instant aiohttp server in its own process answers every request with",
        "its own sentence; `synthdistill generate CONFIG --out OUT` in a fresh process each time, wall time and",
        f"peak resident memory of that process (wait4). Re-runs: {args.repeats}, mean and spread (min to max).",
        f"Load average at the end (other programs on the machine stretch wall time): {os.getloadavg()[1]:.1f}.",
        "",
        "| samples asked | kept | first run | first run peak | cached re-run | re-run CPU | re-run peak |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, kept, first, first_mb, times, mbs, cpus in rows:
        lines.append(
            f"| {n:,} | {kept} | {first:.1f} s | {first_mb:.0f} MB | {statistics.mean(times):.2f} s "
            f"({min(times):.2f} to {max(times):.2f}) | {statistics.mean(cpus):.2f} s ({min(cpus):.2f} to "
            f"{max(cpus):.2f}) | {max(mbs):.0f} MB |"
        )
    if len(rows) > 1:
        ratio = statistics.mean(rows[-1][4]) / statistics.mean(rows[0][4])
        lines += ["", f"Re-run time grows {ratio:.1f}x for {rows[-1][0] / rows[0][0]:.0f}x the samples."]
    bench_output.write_markdown(f"cli_rerun_{args.filters}", lines)


if __name__ == "__main__":
    main()
