"""Do finetune's settings, chosen on English dev, hold in Swahili, Telugu and Welsh? The #15 grid's finetune
(Gemma 3 270M, lr 5e-5, batch 8, max length 128, frozen input embeddings, 3 epochs, the last kept) trained on
10 synthetic sentences per class of the paper's pool, for more epochs, scored on the language's SIB-200 dev
split (99 sentences, never the test split) after each epoch: is the grid's third epoch short of what more
epochs reach?

Run: python bench/finetune_languages.py [--languages sw te cy] [--epochs 8] [--seed 1337]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output
from icl_calibration import dev_split, language_task, topic_labels, training_draw

GRID_EPOCHS = 3
FINETUNE = {"type": "finetune", "backbone": "gemma-270m", "device": "cpu", "learning_rate": 5e-5, "batch_size": 8,
            "max_length": 128, "train_embeddings": False}  # fmt: skip


def dev_history(options: dict[str, Any], labels: list[str], language: str, train: list[Any], dev: list[Any],
                seed: int) -> tuple[list[dict[str, Any]], float]:  # fmt: skip
    """The student's history (dev macro-F1 per epoch or checkpoint) and its training seconds."""
    from pydantic import TypeAdapter

    from synthdistill.config import EmbeddedTeacherSpec, StudentSpec
    from synthdistill.students.registry import student_registry

    spec = TypeAdapter(StudentSpec).validate_python(options)
    with tempfile.TemporaryDirectory() as tmp:
        student = student_registry()[spec.type].from_options(
            spec, task=language_task(labels, language), teacher=EmbeddedTeacherSpec(), language=language, seed=seed,
            workdir=Path(tmp), run_name="languages",
        )  # fmt: skip
        started = time.perf_counter()
        dev_pair = ([e.text for e in dev], [e.label for e in dev])
        student.fit([e.text for e in train], [e.label for e in train], dev=dev_pair)
        return student.history, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", nargs="+", default=["sw", "te", "cy"])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()

    labels = topic_labels()
    lines = [
        "# finetune's epochs beyond English",
        "",
        f"Machine: {bench_output.machine()}. Command: `python bench/finetune_languages.py`. Dev macro-F1 on each "
        "language's SIB-200 dev split (99 sentences) after each epoch of finetune (the #15 grid's settings, more "
        "epochs), trained on 10 synthetic sentences per class of the paper's pool "
        f"(seed {args.seed}, one draw: differences of a few points are noise). The grid keeps epoch {GRID_EPOCHS}.",
        "",
        "| language | dev macro-F1 after each epoch | training s |",
        "|---|---|---:|",
    ]
    for language in args.languages:
        dev = dev_split(labels, language)
        train = training_draw(labels, language, "synthetic", args.seed)
        history, seconds = dev_history({**FINETUNE, "epochs": args.epochs}, labels, language, train, dev, args.seed)
        curve = ", ".join(f"{r['epoch']}: {r['dev_macro_f1']:.3f}" for r in history)
        lines.append(f"| {language} | {curve} | {seconds:.0f} |")
        print(lines[-1], flush=True)
    bench_output.write_markdown("finetune_languages", lines)


if __name__ == "__main__":
    main()
