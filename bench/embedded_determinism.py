"""Is the embedded teacher reproducible, and what does reproducibility cost? `synthdistill generate` then
`synthdistill classify` on a slice of the shipped SIB-200 example, in fresh output folders (fresh caches), twice
for each setting of the embedded teacher (llama.cpp slots, and `reproducible`: plain weights whose numbers do
not depend on the batch), side by side in one run: wall time per stage, and whether the runs wrote byte-identical
synthetic.jsonl and teacher predictions.

Run: python bench/embedded_determinism.py [--settings 1:true 1:false 4:false] [--samples-per-label 6] [--texts 100]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_output
from cli_rerun import timed_cli

EXAMPLE = HERE.parent / "examples" / "sib200-topic.yaml"
LANGUAGES = ["eng_Latn", "swh_Latn"]


def sliced_config(
    folder: Path, name: str, teacher: dict, samples_per_label: int, texts: int | None, evaluation: dict | None = None
) -> Path:
    """The shipped example on two languages with `teacher` settings, and `texts` dev+test texts per language (dev:
    40%; None: the full splits, 99 and 204)."""
    config = yaml.safe_load(EXAMPLE.read_text())
    data = EXAMPLE.parent / "data" / "sib200"
    for language in LANGUAGES:
        target = folder / "data" / language
        target.mkdir(parents=True, exist_ok=True)
        sizes = {"seed": None, "dev": None, "test": None}
        if texts is not None:
            sizes.update(dev=texts * 2 // 5, test=texts - texts * 2 // 5)
        for split, size in sizes.items():
            lines = (data / language / f"{split}.jsonl").read_text().splitlines(keepends=True)
            (target / f"{split}.jsonl").write_text("".join(lines[:size]))
    config["task"]["languages"] = LANGUAGES
    config["teacher"].update(teacher)
    config["evaluation"].update(evaluation or {})
    config["generation"]["samples_per_label"] = samples_per_label
    config["data"] = {split: str(folder / "data" / "{lang}" / f"{split}.jsonl") for split in ("seed", "dev", "test")}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def teacher_settings(setting: str) -> dict:
    """ "4:false" -> 4 llama.cpp slots, not reproducible (4 requests in flight, as the example sends)."""
    slots, reproducible = setting.split(":")
    return {"n_parallel": int(slots), "reproducible": reproducible == "true", "max_concurrency": 4}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", nargs="+", default=["1:true", "1:false", "4:false"], help="SLOTS:REPRODUCIBLE")
    parser.add_argument("--samples-per-label", type=int, default=6)
    parser.add_argument("--texts", type=int, default=100, help="dev + test texts per language for classify")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        configs = {
            setting: sliced_config(
                folder, setting.replace(":", "-"), teacher_settings(setting), args.samples_per_label, args.texts
            )
            for setting in args.settings
        }
        runs: dict[str, list[tuple[float, float, str, str]]] = {setting: [] for setting in args.settings}
        for repeat in range(args.repeats):  # interleaved, so a busy spell on the machine hits every setting
            for setting, config in configs.items():
                out = folder / f"out-{setting.replace(':', '-')}-{repeat}"
                generate = timed_cli(["generate", str(config), "--out", str(out), "--no-progress"])[0]
                classify = timed_cli(["classify", str(config), "--out", str(out), "--no-progress"])[0]
                runs[setting].append(
                    (generate, classify, digest(out / "synthetic.jsonl"), digest(out / "teacher_predictions.jsonl"))
                )
                print(f"{setting} run {repeat + 1}: generate {generate:.0f} s, classify {classify:.0f} s", flush=True)
        for setting, results in runs.items():
            generate = [r[0] for r in results]
            classify = [r[1] for r in results]
            same_samples = len({r[2] for r in results}) == 1
            same_scores = len({r[3] for r in results}) == 1
            rows.append((setting, generate, classify, same_samples, same_scores))
    samples = len(LANGUAGES) * 7 * args.samples_per_label
    lines = [
        "# Embedded teacher: reproducibility and speed per setting",
        "",
        f"Machine: {bench_output.machine()}. The shipped SIB-200 example on {', '.join(LANGUAGES)}: `generate` asks "
        f"for {samples} samples, `classify` scores {args.texts} dev+test texts per language 0- and 1-shot; each run in "
        f"a fresh output folder (no cache), {args.repeats} runs per setting, interleaved. Mean seconds (min to max).",
        "",
        "| n_parallel | reproducible | generate | classify | synthetic.jsonl same | teacher predictions same |",
        "|---:|:---:|---:|---:|:---:|:---:|",
    ]
    for setting, generate, classify, same_samples, same_scores in rows:
        slots, reproducible = setting.split(":")
        lines.append(
            f"| {slots} | {reproducible} | "
            f"{statistics.mean(generate):.0f} s ({min(generate):.0f} to {max(generate):.0f}) | "
            f"{statistics.mean(classify):.0f} s ({min(classify):.0f} to {max(classify):.0f}) | "
            f"{'yes' if same_samples else 'no'} | {'yes' if same_scores else 'no'} |"
        )
    bench_output.write_markdown("embedded_determinism", lines)


if __name__ == "__main__":
    main()
