"""Peak memory and wall time of the embedded teacher against `teacher.cache_ram_mib`, the bound on llama.cpp's
host-memory prompt cache (llama.cpp's own default, 8192 MiB, let a four-language run grow past 5.5 GB).

Each measurement is a fresh CLI process under `/usr/bin/time -v` (its "Maximum resident set size") in a fresh
output folder, so no request cache answers for the teacher: first the teacher's classification stage
(`synthdistill classify`) of examples/sib200-topic.yaml for each setting, settings alternating across
repeats; then the whole main job (`synthdistill run`) with the new default and with 8192, side by side.
Writes bench/results/embedded_memory.md.

Run: python bench/embedded_memory.py [--settings 0 256 512 8192] [--repeats 2] [--main 512 8192] [--config YAML]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
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

from synthdistill.teachers.embedded import DEFAULT_CACHE_RAM_MIB

TIME = Path("/usr/bin/time")


def config_variant(config: Path, cache_ram_mib: int, folder: Path) -> Path:
    """A copy of `config` with teacher.cache_ram_mib set and data paths made absolute (they are relative to
    the config's folder, and the copy lives elsewhere)."""
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw.setdefault("teacher", {})["cache_ram_mib"] = cache_ram_mib
    for key, value in (raw.get("data") or {}).items():
        if isinstance(value, str) and value != "-" and not Path(value).is_absolute():
            raw["data"][key] = str(config.resolve().parent / value)
    path = folder / f"{config.stem}-cache{cache_ram_mib}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


Measurement = tuple[int, int, float, float, float, float]  # setting, repeat, wall s, CPU s, peak GiB, load


def measure(command: str, config: Path, folder: Path) -> tuple[float, float, float, float]:
    """Wall seconds, CPU seconds (user + system), peak resident GiB of one `synthdistill <command>` process in a
    fresh output folder, and the 5-minute load average at its end (other work on the machine stretches wall
    time, hardly CPU time)."""
    out = Path(tempfile.mkdtemp(prefix=f"{command}-", dir=folder))
    cli = [sys.executable, "-m", "synthdistill", command, str(config), "--out", str(out), "--no-progress"]
    started = time.perf_counter()
    done = subprocess.run([str(TIME), "-v", *cli], capture_output=True, text=True)
    wall = time.perf_counter() - started
    load = os.getloadavg()[1]
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cli)} failed ({done.returncode}):\n{done.stderr[-3000:]}")

    def field(name: str) -> float:
        found = re.search(rf"{re.escape(name)}: ([0-9.]+)", done.stderr)
        if found is None:
            raise SystemExit(f"/usr/bin/time gave no {name!r}:\n{done.stderr[-2000:]}")
        return float(found.group(1))

    cpu = field("User time (seconds)") + field("System time (seconds)")
    shutil.rmtree(out, ignore_errors=True)
    return wall, cpu, field("Maximum resident set size (kbytes)") / 2**20, load


def table(title: str, rows: list[Measurement]) -> list[str]:
    lines = [
        title,
        "",
        "| cache_ram_mib | repeat | wall s | CPU s | peak RSS GiB | load (5 min) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {s} | {r} | {wall:.0f} | {cpu:.0f} | {rss:.2f} | {load:.1f} |" for s, r, wall, cpu, rss, load in rows]
    return lines


def summary(rows: list[Measurement]) -> list[str]:
    lines = ["| cache_ram_mib | runs | median wall s | median CPU s | max peak RSS GiB |", "|---:|---:|---:|---:|---:|"]
    for setting in dict.fromkeys(r[0] for r in rows):
        runs = [r for r in rows if r[0] == setting]
        wall, cpu = statistics.median(r[2] for r in runs), statistics.median(r[3] for r in runs)
        lines.append(f"| {setting} | {len(runs)} | {wall:.0f} | {cpu:.0f} | {max(r[4] for r in runs):.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=HERE.parent / "examples/sib200-topic.yaml")
    parser.add_argument("--settings", type=int, nargs="*", default=[0, 256, 512, 8192], help="classify sweep")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--main", type=int, nargs="*", default=[DEFAULT_CACHE_RAM_MIB, 8192], help="`run` jobs")
    args = parser.parse_args()
    if not TIME.is_file():
        raise SystemExit(f"{TIME} is needed for the peak RSS (apt-get install time)")
    sweep: list[Measurement] = []
    jobs: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="embedded-memory-") as tmp:
        folder = Path(tmp)
        for repeat in range(1, args.repeats + 1):
            order = args.settings if repeat % 2 else args.settings[::-1]  # alternate: drift hits every setting
            for setting in order:
                wall, cpu, rss, load = measure("classify", config_variant(args.config, setting, folder), folder)
                sweep.append((setting, repeat, wall, cpu, rss, load))
                print(f"classify cache_ram_mib={setting} repeat={repeat}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                      f"{rss:.2f} GiB, load {load:.2f}", flush=True)  # fmt: skip
        for setting in args.main:
            wall, cpu, rss, load = measure("run", config_variant(args.config, setting, folder), folder)
            jobs.append((setting, 1, wall, cpu, rss, load))
            print(f"run cache_ram_mib={setting}: {wall:.1f} s wall, {cpu:.1f} s CPU, {rss:.2f} GiB, load {load:.2f}",
                  flush=True)  # fmt: skip
    config_name = args.config.resolve().relative_to(HERE.parent) if args.config.resolve().is_relative_to(
        HERE.parent) else args.config  # fmt: skip
    command = " ".join(["python bench/embedded_memory.py", "--settings", *map(str, args.settings),
                        "--repeats", str(args.repeats), "--main", *map(str, args.main)])  # fmt: skip
    lines = [
        "# Embedded teacher: peak memory against llama.cpp's prompt cache (`teacher.cache_ram_mib`)",
        "",
        f"Machine: {bench_output.machine()}. Config: `{config_name}` with `teacher.cache_ram_mib` set; each "
        "figure is one fresh CLI process in a fresh output folder (no request cache), peak RSS from "
        f"`/usr/bin/time -v`. Default now: {DEFAULT_CACHE_RAM_MIB} MiB (llama.cpp's own: 8192). "
        f"Run by `{command}` on {datetime.date.today().isoformat()}.",
        "",
    ]
    if sweep:
        lines += [*table("## The teacher's classification stage (`synthdistill classify`)", sweep), ""]
        lines += [*summary(sweep), ""]
    if jobs:
        lines += [*table("## The whole main job (`synthdistill run`)", jobs), ""]
    bench_output.write_markdown("embedded_memory", lines)


if __name__ == "__main__":
    main()
