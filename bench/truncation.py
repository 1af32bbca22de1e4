"""Does the auto token budget fit every language? `synthdistill generate` with the embedded teacher on the paper's
11 languages (topic task, seed texts from its human training pool) and on the shipped example's 4, repeated with
different generation seeds; per language: the budget, the answers made, the shares cut by max_tokens
(`truncated`), cut inside a repetition loop (`repetitive`) and cut already past max_chars (`too_long`): a larger
budget would only have lengthened the last two.

Run: python bench/truncation.py [--samples-per-label 6] [--repeats 2] [--paper ../shared/data/paper]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_output
from cli_rerun import timed_cli

EXAMPLE = HERE.parent / "examples" / "sib200-topic.yaml"
PAPER_LANGUAGES = ["en", "de", "th", "he", "id", "sw", "ro", "az", "sl", "te", "cy"]
REASONS = ("truncated", "repetitive", "too_long")
EXAMPLE_LANGUAGES = ["eng_Latn", "ind_Latn", "swh_Latn", "cym_Latn"]


def example_config(folder: Path, samples_per_label: int, seed: int) -> Path:
    config = yaml.safe_load(EXAMPLE.read_text())
    config["task"]["languages"] = EXAMPLE_LANGUAGES
    config["generation"].update(samples_per_label=samples_per_label, seed=seed)
    config["source"] = {"default": "in_language"}
    data = EXAMPLE.parent / "data" / "sib200"
    config["data"] = {split: str(data / "{lang}" / f"{split}.jsonl") for split in ("seed", "dev", "test")}
    path = folder / f"example-{seed}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def paper_config(folder: Path, paper: Path, samples_per_label: int, seed: int) -> Path:
    """The paper's topic task with the example's generation settings; seeds: 70 texts of its training pool."""
    config = yaml.safe_load(EXAMPLE.read_text())
    labels = json.loads((paper / "topic" / "labels.json").read_text())
    descriptions = {label["name"]: label["description"] for label in config["task"]["labels"]}
    config["task"]["labels"] = [
        {"name": label, "description": descriptions.get(label, descriptions.get("science/technology"))}
        for label in labels
    ]
    config["task"]["languages"] = PAPER_LANGUAGES
    for language in PAPER_LANGUAGES:
        rows = (paper / "topic" / language / "train.jsonl").read_text().splitlines()
        target = folder / "paper" / language
        target.mkdir(parents=True, exist_ok=True)
        (target / "seed.jsonl").write_text("\n".join(rows[::10]) + "\n")  # every tenth: 70 texts, all labels
    config["generation"].update(samples_per_label=samples_per_label, seed=seed)
    config["source"] = {"default": "in_language"}
    config["data"] = {"seed": str(folder / "paper" / "{lang}" / "seed.jsonl"),
                      "test": str(paper / "topic" / "{lang}" / "test.jsonl")}  # fmt: skip
    config["students"] = []
    path = folder / f"paper-{seed}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def counts(out: Path) -> tuple[Counter, Counter, dict[str, int]]:
    made: Counter = Counter()
    cut: Counter = Counter()
    for line in (out / "synthetic.jsonl").read_text().splitlines():
        made[json.loads(line)["language"]] += 1
    for line in (out / "dropped.jsonl").read_text().splitlines():
        row = json.loads(line)
        made[row["language"]] += 1
        cut[row["language"], row["reason"]] += 1
    budgets = {}
    for line in (out / "dataset_card.md").read_text().split("## Token budgets")[1].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[1].isdigit():
            budgets[cells[0]] = int(cells[1])
    return made, cut, budgets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples-per-label", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--paper", type=Path, default=HERE.parent.parent / "shared" / "data" / "paper")
    parser.add_argument("--data", nargs="+", choices=["example", "paper"], default=["example", "paper"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        makers = {
            "example (SIB-200)": lambda s: example_config(folder, args.samples_per_label, s),
            "paper topic": lambda s: paper_config(folder, args.paper, args.samples_per_label, s),
        }
        for name, make in makers.items():
            if name.split()[0] not in args.data:
                continue
            per_language: dict[str, list[tuple[int, ...]]] = {}
            for seed in range(args.repeats):
                out = folder / f"out-{name.split()[0]}-{seed}"
                seconds = timed_cli(["generate", str(make(seed)), "--out", str(out), "--no-progress"])[0]
                print(f"{name}, seed {seed}: {seconds:.0f} s", flush=True)
                made, cut, budgets = counts(out)
                for language in budgets:
                    per_language.setdefault(language, []).append(
                        (budgets[language], made[language], *(cut[language, reason] for reason in REASONS))
                    )
            for language, runs in per_language.items():
                rows.append((name, language, runs))
    lines = [
        "# Token budgets: truncation per language",
        "",
        f"Machine: {bench_output.machine()}. Embedded teacher (Gemma 3 270M), the example's generation settings "
        f"(temperature 0.8, top_p 0.95, 3 demonstrations, max_tokens auto), {args.samples_per_label} samples per "
        f"label, generation seeds 0 to {args.repeats - 1}. truncated: answers cut by max_tokens; repetitive: cut "
        "inside a repetition loop (dropped as repetitive: a larger budget only lengthens the loop); too_long: "
        "over max_chars, whether cut or not (a cut answer already past max_chars counts here). Per run, then the "
        "truncated share over all runs and the largest of any run.",
        "",
        "| data | language | max_tokens | answers per run | truncated per run | repetitive per run "
        "| too_long per run | truncated, all runs | truncated, worst run |",
        "|---|---|---:|---:|---|---|---|---:|---:|",
    ]
    for name, language, runs in rows:
        worst = max((run[2] / run[1] for run in runs if run[1]), default=0.0)
        pooled = sum(run[2] for run in runs) / max(1, sum(run[1] for run in runs))
        per_run = " | ".join(", ".join(str(run[column]) for run in runs) for column in range(2, 2 + len(REASONS)))
        lines.append(
            f"| {name} | {language} | {runs[0][0]} | {statistics.mean(run[1] for run in runs):.0f} | {per_run} "
            f"| {pooled:.1%} | {worst:.1%} |"
        )
    bench_output.write_markdown("truncation", lines)


if __name__ == "__main__":
    main()
