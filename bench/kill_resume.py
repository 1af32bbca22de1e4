"""What `kill -9` costs: `synthdistill generate` against an instant local server is killed with SIGKILL at
random moments, then run again to the end; the server counts every request it answered, so the requests
paid for twice are counted, not estimated. The engine commits answers to the cache once the oldest has
waited 50 ms (a batch is due at the next answer; an idle one within 0.1 s), so a kill should lose about
the answers of the last 0.1 s and the requests in flight.

Run: python bench/kill_resume.py [--samples 20000] [--kills 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output
import cli_rerun
import instant_server


def answered(url: str) -> int:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/count", timeout=10) as response:
        return json.load(response)["answered"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    server, url = instant_server.start(varied=True)
    rng = random.Random(0)
    rows = []
    try:
        for attempt in range(args.kills):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                (folder / "test.jsonl").write_text(json.dumps({"text": "a test text", "label": "label0"}) + "\n")
                (folder / "job.yaml").write_text(yaml.safe_dump(cli_rerun.job_config(url, args.samples, "exact")))
                command = [sys.executable, "-m", "synthdistill.cli", "generate", str(folder / "job.yaml"),
                           "--out", str(folder / "out"), "--no-progress"]  # fmt: skip
                start = answered(url)
                process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while (under_way := answered(url) - start) < args.samples // 10:  # well under way
                    time.sleep(0.05)
                since = time.perf_counter()
                time.sleep(rng.uniform(0.2, 1.0))
                process.send_signal(signal.SIGKILL)
                process.wait()
                before_kill = answered(url) - start
                rate = (before_kill - under_way) / (time.perf_counter() - since)  # the engine's pace before the kill
                finished = subprocess.run(command, capture_output=True, text=True, check=True)
                repaid = answered(url) - start - args.samples
                rows.append((before_kill, repaid, rate))
                print(f"kill {attempt + 1}: {before_kill} answered before the kill at {rate:.0f}/s, {repaid} paid "
                      f"twice ({repaid / before_kill:.1%}); {finished.stdout.splitlines()[-1]}")  # fmt: skip
    finally:
        server.terminate()
    shares = [repaid / before for before, repaid, _ in rows]
    windows = [repaid / rate for _, repaid, rate in rows]
    lines = [
        "# kill -9 during generation: requests paid for twice",
        "",
        f"Machine: {bench_output.machine()}; `synthdistill generate` of {args.samples:,} samples against an instant",
        "aiohttp server in its own process (concurrency 64), killed with SIGKILL at a random moment after a tenth",
        "of the job, then run again to the end. The server counts the requests it answered.",
        f"Load average at the end (other programs on the machine): {os.getloadavg()[1]:.1f}.",
        "",
        "| kill | answered before the kill | pace before the kill | paid for twice | share | seconds of answers |",
        "|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {i + 1} | {before:,} | {rate:,.0f} req/s | {repaid:,} | {repaid / before:.2%} | {repaid / rate:.3f} |"
            for i, (before, repaid, rate) in enumerate(rows)
        ],
        "",
        f"Paid twice: {statistics.mean(shares):.2%} of the requests answered before the kill on average "
        f"({min(shares):.2%} to {max(shares):.2%}), the answers of the last {statistics.mean(windows):.3f} s "
        f"({min(windows):.3f} to {max(windows):.3f}) at the pace the engine had then.",
    ]
    bench_output.write_markdown("kill_resume", lines)


if __name__ == "__main__":
    main()
