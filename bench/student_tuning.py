"""Does each of the paper's students learn on this machine's backbones, and with which settings? Every trial
trains one student on the paper's English topic training pool (50 human sentences per class, the grid's first
repeat) and scores the human SIB-200 English dev split (99 sentences, disjoint from the pool and the test split)
after every epoch or checkpoint; the test split is never read. Beside them: the majority class and the embedded
teacher's zero-shot label scoring (raw and calibrated) on the same dev sentences.

Each trial runs in its own process (its peak memory is its own) and is appended to TRIALS as it finishes, so
an interrupted run resumes with the trials it lacks.

Run: python bench/student_tuning.py [--only finetune lora icl baselines] [--paper ../shared/data/paper]
     [--dev ../shared/data/sib200/eng_Latn/dev.jsonl] [--trials runs/student-tuning/trials.jsonl]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

PER_CLASS, SEED, LANGUAGE = 50, 1337, "en"
GEMMA = {"backbone": "gemma-270m", "device": "cpu"}
TOPIC_WORDS = {"domain": "sentences from Wikipedia-style articles, news and travel guides", "text_kind": "sentence",
               "label_kind": "topic"}  # fmt: skip
# name -> (family, student options, task wording[, per class]); the first of each family is the paper's setting
FINETUNE = {"type": "finetune", **GEMMA, "epochs": 6, "max_length": 128, "batch_size": 8, "train_embeddings": False}
LORA = {"type": "lora", **GEMMA, "steps": 120, "checkpoint_every": 30, "max_length": 128}
TRIALS: dict[str, tuple[Any, ...]] = {
    "finetune lr 1e-5 (paper)": ("finetune", {**FINETUNE, "learning_rate": 1e-5}, {}),
    "finetune lr 5e-5": ("finetune", {**FINETUNE, "learning_rate": 5e-5}, {}),
    "finetune lr 2e-4": ("finetune", {**FINETUNE, "learning_rate": 2e-4}, {}),
    "lora lr 3e-5 (paper)": ("lora", {**LORA, "learning_rate": 3e-5}, {}),
    "lora lr 3e-4": ("lora", {**LORA, "learning_rate": 3e-4}, {}),
    "icl random": ("icl", {"type": "icl", "selection": "random"}, {}),
    "icl nearest": ("icl", {"type": "icl", "selection": "nearest"}, {}),
    "icl random, topic wording": ("icl", {"type": "icl", "selection": "random"}, TOPIC_WORDS),
    "icl nearest, topic wording": ("icl", {"type": "icl", "selection": "nearest"}, TOPIC_WORDS),
    "finetune lr 1e-5 (paper), 10 per class": ("finetune", {**FINETUNE, "learning_rate": 1e-5}, {}, 10),
    "finetune lr 5e-5, 10 per class": ("finetune", {**FINETUNE, "learning_rate": 5e-5}, {}, 10),
    "finetune lr 1e-5 (paper), 10 per class, embeddings trained": (
        "finetune", {**FINETUNE, "learning_rate": 1e-5, "train_embeddings": True}, {}, 10),
}  # fmt: skip


def english_data(paper: Path, dev_file: Path, per_class: int = PER_CLASS) -> tuple[list[str], Any, Any]:
    from synthdistill.data import read_examples, read_json_file, sample_per_label

    labels = read_json_file(paper / "topic" / "labels.json", "label")
    drawn = sample_per_label(read_examples(paper / "topic" / LANGUAGE / "train.jsonl", labels), per_class, SEED)
    train = [e for label in labels for e in drawn.get(label, [])]
    dev = read_examples(dev_file, labels)
    return labels, train, dev


def task(labels: list[str], wording: dict[str, str]) -> Any:
    """The task as the experiment grid gives it to a cell (its defaults, or the wording given)."""
    from synthdistill.experiments.config import ExperimentTaskSpec
    from synthdistill.experiments.planning import task_spec

    return task_spec(ExperimentTaskSpec(name="topic", labels=labels, test="-", **wording), [LANGUAGE])


def run_trial(name: str, paper: Path, dev_file: Path) -> dict[str, Any]:
    """One trial in this process: train with dev, then score the kept model on dev."""
    from pydantic import TypeAdapter

    from synthdistill.config import StudentSpec, TeacherSpec
    from synthdistill.evaluation.scores import classification_scores
    from synthdistill.students.registry import student_registry

    family, options, wording, *size = TRIALS[name]
    labels, train, dev = english_data(paper, dev_file, *size)
    spec = TypeAdapter(StudentSpec).validate_python(options)
    with tempfile.TemporaryDirectory() as tmp:
        student = student_registry()[spec.type].from_options(
            spec, task=task(labels, wording), teacher=TypeAdapter(TeacherSpec).validate_python({}), language=LANGUAGE,
            seed=SEED, workdir=Path(tmp), run_name="tuning",
        )  # fmt: skip
        started = time.perf_counter()
        student.fit(
            [e.text for e in train], [e.label for e in train], dev=([e.text for e in dev], [e.label for e in dev])
        )
        fitted = time.perf_counter()
        predicted = student.predict([e.text for e in dev])
        predicting = time.perf_counter() - fitted
    scores = classification_scores([e.label for e in dev], predicted, labels)
    return {
        "trial": name, "family": family, "options": options, "wording": wording, "n_train": len(train),
        "n_dev": len(dev), "dev_macro_f1": scores["macro_f1"], "dev_accuracy": scores["accuracy"],
        "history": getattr(student, "history", []), "fit_seconds": round(fitted - started, 1),
        "dev_texts_per_second": round(len(dev) / predicting, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }  # fmt: skip


def baselines(paper: Path, dev_file: Path) -> list[dict[str, Any]]:
    """Majority class (of the training sample) and the embedded teacher's zero-shot scoring on dev."""
    from pydantic import TypeAdapter

    from synthdistill.config import TeacherSpec
    from synthdistill.evaluation.scores import classification_scores
    from synthdistill.evaluation.teacher_classifier import calibrate, classify_with_teacher, content_free_baseline
    from synthdistill.teachers import open_teacher

    labels, train, dev = english_data(paper, dev_file)
    gold, texts = [e.label for e in dev], [e.text for e in dev]
    majority = Counter(e.label for e in train).most_common(1)[0][0]
    rows = [{"trial": "majority class", "family": "baseline",
             "dev_macro_f1": classification_scores(gold, [majority] * len(gold), labels)["macro_f1"]}]  # fmt: skip
    spec = TypeAdapter(TeacherSpec).validate_python({})
    for wording_name, wording in (("", {}), (", topic wording", TOPIC_WORDS)):
        with tempfile.TemporaryDirectory() as tmp:
            teacher = open_teacher(spec, Path(tmp) / "cache.sqlite", progress=False)
            try:
                started = time.perf_counter()
                the_task = task(labels, wording)
                raw = classify_with_teacher(the_task, spec.prompt_mode, teacher, LANGUAGE, texts)
                seconds = time.perf_counter() - started
                free = content_free_baseline(the_task, spec.prompt_mode, teacher, LANGUAGE, [], "label_name")
            finally:
                teacher.close()
        for calibrated, predictions in ((False, raw), (True, [calibrate(p, free) for p in raw])):
            rows.append({
                "trial": f"teacher zero-shot{', calibrated' if calibrated else ''}{wording_name}", "family": "baseline",
                "dev_macro_f1": classification_scores(gold, [p.label for p in predictions], labels)["macro_f1"],
                "dev_texts_per_second": round(len(texts) / seconds, 2),
            })  # fmt: skip
    return rows


def curve(row: dict[str, Any]) -> str:
    """Dev macro-F1 after each epoch or checkpoint, with training loss."""
    points = []
    for record in row.get("history") or []:
        where = record.get("step", record.get("epoch"))
        if "dev_macro_f1" in record:
            points.append(f"{where}: {record['dev_macro_f1']:.3f} ({record['train_loss']:.2f})")
    return "; ".join(points) or "-"


def render(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "# The paper's students on this machine: settings chosen on English dev",
        "",
        f"Machine: {bench_output.machine()}. Training: the paper's English topic pool, {PER_CLASS} human "
        f"sentences per class unless the trial says otherwise (seed {SEED}, the grid's first repeat); scored on "
        "the human SIB-200 English dev "
        "split (99 sentences, disjoint from the pool and from the test split, which no trial reads). finetune and "
        "lora: Gemma 3 270M (the offline backbone) on the CPU; icl: the embedded teacher (Gemma 3 270M, llama.cpp) "
        "with 2 training sentences per label. The kept model: finetune and lora keep the epoch or checkpoint "
        "best on dev (the grid, without dev, keeps its last). Peak memory: the trial's own process. "
        "Run: `python bench/student_tuning.py`.",
        "",
        "| trial | dev macro-F1 (kept) | dev F1 per epoch / step (training loss) | training s | dev texts/s "
        "| peak MB |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['trial']} | {row['dev_macro_f1']:.3f} | {curve(row)} | {row.get('fit_seconds', '-')} "
            f"| {row.get('dev_texts_per_second', '-')} | {row.get('peak_rss_mb', '-')} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paper", type=Path, default=HERE.parent.parent / "shared" / "data" / "paper")
    parser.add_argument("--dev", type=Path, default=HERE.parent.parent / "shared/data/sib200/eng_Latn/dev.jsonl")
    parser.add_argument("--trials", type=Path, default=Path("runs/student-tuning/trials.jsonl"))
    parser.add_argument("--only", nargs="+", choices=["baselines", "finetune", "lora", "icl"])
    parser.add_argument("--trial", help=argparse.SUPPRESS)  # one trial, in a child process: prints its row
    args = parser.parse_args()
    if args.trial:
        print(json.dumps(run_trial(args.trial, args.paper, args.dev)))
        return
    args.trials.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if args.trials.exists():
        done = {row["trial"]: row for row in map(json.loads, args.trials.read_text().splitlines())}
    families = set(args.only or ["baselines", "finetune", "lora", "icl"])
    todo = [name for name, (family, *_) in TRIALS.items() if family in families and name not in done]
    baseline_names = ["majority class"] + [
        f"teacher zero-shot{calibrated}{wording}"
        for wording in ("", ", topic wording")
        for calibrated in ("", ", calibrated")
    ]
    if "baselines" in families and not all(name in done for name in baseline_names):
        for row in baselines(args.paper, args.dev):
            done[row["trial"]] = row
            with args.trials.open("a") as out:
                out.write(json.dumps(row) + "\n")
    for name in todo:
        print(f"{time.strftime('%H:%M:%S')} {name}", flush=True)
        child = subprocess.run(
            [sys.executable, __file__, "--trial", name, "--paper", str(args.paper), "--dev", str(args.dev)],
            capture_output=True, text=True,
        )  # fmt: skip
        if child.returncode:
            print(child.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"trial {name!r} failed")
        row = json.loads(child.stdout.strip().splitlines()[-1])
        done[name] = row
        with args.trials.open("a") as out:
            out.write(json.dumps(row) + "\n")
    order = [*baseline_names, *TRIALS]
    bench_output.write_markdown("student_tuning", render([done[name] for name in order if name in done]))


if __name__ == "__main__":
    main()
