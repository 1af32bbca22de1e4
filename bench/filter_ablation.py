"""Filter ablation on SIB-200 with the embedded teacher: student (tfidf) macro-F1 with all filters, with none,
and with each filter left out, in several languages. Reads ../shared/data/sib200 (or --data) by path.

Run: python bench/filter_ablation.py [--languages eng_Latn ind_Latn swh_Latn cym_Latn] [--per-label 20]
Writes bench/results/filter_ablation.{json,md}. The request cache (bench/.cache) makes a re-run cheap.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

from synthdistill.config import FilterSpec, parse_config
from synthdistill.data import Example, read_examples
from synthdistill.evaluation.scores import classification_scores
from synthdistill.generation.filters import filter_samples, teacher_check
from synthdistill.generation.samples import generate_samples
from synthdistill.students.tfidf import TfidfStudent
from synthdistill.teachers import open_teacher

DESCRIPTIONS = {
    "science/technology": "science, research, technology, computers, nature and the physical world",
    "travel": "travelling, tourism, transport, accommodation and advice for visitors",
    "politics": "governments, elections, laws, politicians and international relations",
    "sports": "sports, athletes, matches, competitions and results",
    "health": "health, medicine, diseases, the body and well-being",
    "entertainment": "films, music, television, celebrities, festivals and culture",
    "geography": "countries, regions, landscapes, rivers, mountains and climate",
}
VARIANTS = {
    "no filters": {"min_chars": 1, "max_chars": 100000, "language_id": False, "near_duplicate_threshold": None},
    "all filters": {},
    "all but length": {"min_chars": 1, "max_chars": 100000},
    "all but language ID": {"language_id": False},
    "all but near duplicates": {"near_duplicate_threshold": None},
    "all but teacher check": {},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/sib200")
    parser.add_argument("--languages", nargs="+", default=["eng_Latn", "ind_Latn", "swh_Latn", "cym_Latn"])
    parser.add_argument("--per-label", type=int, default=20)
    parser.add_argument("--seeds-per-label", type=int, default=10)
    args = parser.parse_args()
    labels = json.loads((args.data / "labels.json").read_text())
    raw_config = {
        "task": {"name": "sib200-topic", "domain": "sentences from Wikipedia-style articles, news and travel guides",
                 "label_kind": "topic", "languages": args.languages,
                 "labels": [{"name": label, "description": DESCRIPTIONS[label]} for label in labels]},
        "teacher": {"backend": "embedded", "n_parallel": 4, "max_concurrency": 4},
        "generation": {"samples_per_label": args.per_label, "demos_per_prompt": 3, "temperature": 0.8,
                       "top_p": 0.95, "repetition_penalty": 1.2},
        "filters": {"min_chars": 20, "max_chars": 400, "teacher_check": True, "teacher_check_shots": 1},
        "data": {"seed": str(args.data / "{lang}/train.jsonl"), "test": str(args.data / "{lang}/test.jsonl")},
    }  # fmt: skip
    config = parse_config(raw_config)
    seeds: dict[str, list[Example]] = {}
    tests: dict[str, list[Example]] = {}
    for language in args.languages:
        train = read_examples(args.data / language / "train.jsonl", labels, language=language)
        seeds[language] = [
            e for label in labels for e in [x for x in train if x.label == label][: args.seeds_per_label]
        ]
        tests[language] = read_examples(args.data / language / "test.jsonl", labels, language=language)

    started = time.perf_counter()
    teacher = open_teacher(config.teacher, HERE / ".cache/filter_ablation.sqlite", progress=True)
    try:
        raw, _ = generate_samples(config.task, config.generation, config.teacher.prompt_mode, teacher, seeds)
        checked, _ = teacher_check(
            config.task,
            config.teacher.prompt_mode,
            teacher,
            raw,
            seeds,
            shots=config.filters.teacher_check_shots,
            seed=config.evaluation.seed,
        )
    finally:
        teacher.close()
    agreed = {id(e) for e in checked}
    seed_texts = [e.text for pool in seeds.values() for e in pool]

    results = []
    for variant, overrides in VARIANTS.items():
        spec = FilterSpec(**{**config.filters.model_dump(), **overrides})
        kept, _ = filter_samples(raw, spec, seed_texts=seed_texts)
        if variant not in ("no filters", "all but teacher check"):
            kept = [e for e in kept if id(e) in agreed]
        for language in args.languages:
            rows = [e for e in kept if e.language == language]
            student = TfidfStudent().fit([e.text for e in rows], [e.label for e in rows])
            test = tests[language]
            scores = classification_scores([e.label for e in test], student.predict([e.text for e in test]), labels)
            results.append({
                "variant": variant, "language": language, "n_train": len(rows),
                "macro_f1": round(scores["macro_f1"], 4), "accuracy": round(scores["accuracy"], 4),
            })  # fmt: skip
            print(f"{variant:24s} {language}: n={len(rows):4d} macro-F1 {scores['macro_f1']:.3f}")
    elapsed = time.perf_counter() - started

    machine = bench_output.machine()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    meta = {
        "machine": machine, "teacher": teacher.model, "per_label": args.per_label, "raw_samples": len(raw),
        "seconds": round(elapsed, 1), "data": "SIB-200 test splits (204 per language)", "results": results,
    }  # fmt: skip
    (out / "filter_ablation.json").write_text(json.dumps(meta, indent=1) + "\n")
    lines = [f"# Filter ablation (tfidf student, SIB-200, embedded teacher `{teacher.model}`)", "",
             f"Machine: {machine}. {len(raw)} raw samples ({args.per_label} requested per language and label, "
             f"3 in-language demonstrations from {args.seeds_per_label} human train sentences per label); "
             f"macro-F1 on the 204-sentence test split; {elapsed:.0f} s including generation.", "",
             "| variant | " + " | ".join(args.languages) + " | mean |",
             "|---" * (len(args.languages) + 2) + "|"]  # fmt: skip
    for variant in VARIANTS:
        cells = [r for r in results if r["variant"] == variant]
        mean = sum(r["macro_f1"] for r in cells) / len(cells)
        lines.append(f"| {variant} | " + " | ".join(f"{r['macro_f1']:.3f} (n={r['n_train']})" for r in cells)
                     + f" | {mean:.3f} |")  # fmt: skip
    (out / "filter_ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
