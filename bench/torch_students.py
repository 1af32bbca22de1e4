"""Training and prediction time of the torch students at the paper's model sizes, on any device: finetune on
an XLM-RoBERTa-large-shaped encoder and lora on a Gemma-3-270M-shaped decoder, with random weights (time
depends on the shape, not on the weights; no download), on the paper's topic data. Prints the time of the
paper's presets (finetune: 50 epochs; lora: 600 steps of batch 8) for one training set of the size given.

Run: python bench/torch_students.py [--device auto] [--per-class 200] [--lora-steps 20] [--test 204]
     [--precision float32|bfloat16]
     [--data ../shared/data/paper/topic] [--language en]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

from synthdistill.config import FinetuneStudentSpec, LoraStudentSpec
from synthdistill.data import read_examples, read_json_file, sample_per_label
from synthdistill.students.backbones import torch_device
from synthdistill.students.finetune import PAPER_EPOCHS, FineTunedStudent, batch_size_for
from synthdistill.students.lora import LoraStudent
from tests.random_backbones import write_random_backbone

PAPER_LORA_STEPS = 600


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/paper/topic")
    parser.add_argument("--language", default="en")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--lora-steps", type=int, default=20)
    parser.add_argument("--test", type=int, default=204, help="test texts to predict")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    import torch

    device = torch_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    labels = read_json_file(args.data / "labels.json", "label file")
    pool = read_examples(args.data / args.language / "synthetic.jsonl", labels)
    chosen = sample_per_label(pool, args.per_class, seed=0)
    rows = [e for label in labels for e in chosen.get(label, [])]
    texts, targets = [e.text for e in rows], [e.label for e in rows]
    test = [e.text for e in read_examples(args.data / args.language / "test.jsonl", labels)][: args.test]
    words = [*texts, *test, *labels]
    lines = [
        f"# Torch students at the paper's model sizes on {name}",
        "",
        f"Machine: {bench_output.machine()}; device {device} ({name}); torch {torch.__version__}. Random "
        f"weights of the real shapes; {len(texts)} training texts ({args.per_class} per label, the paper's "
        f"{args.language} topic synthetic data), {len(test)} test texts, precision {args.precision}.",
        "",
        "| student | backbone shape | measured | per unit | paper preset, one training set |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        encoder = write_random_backbone(Path(tmp) / "encoder", "xlm-roberta-large", words)
        student = FineTunedStudent(
            FinetuneStudentSpec(backbone=encoder, epochs=2, precision=args.precision, device=args.device),
            progress=False,
        )
        student.fit(texts, targets)
        epoch = student.history[1]["seconds"]  # the second: the first also warms up kernels and allocators
        predicting = [timed(lambda: student.predict(test)) for _ in range(2)]
        lines.append(
            f"| finetune | xlm-roberta-large (560M) | epoch 2, batch {batch_size_for(len(texts))}: {epoch:.1f} s; "
            f"predict {len(test)}: {predicting[0]:.2f} s, again {predicting[1]:.2f} s | "
            f"{1000 * epoch / len(texts):.1f} ms per training text per epoch | "
            f"{PAPER_EPOCHS} epochs: {PAPER_EPOCHS * epoch / 60:.1f} min |"
        )
        decoder = write_random_backbone(Path(tmp) / "decoder", "gemma-3-270m", words)
        half = max(1, args.lora_steps // 2)
        lora = LoraStudent(LoraStudentSpec(backbone=decoder, steps=2 * half, batch_size=8, checkpoint_every=half,
                                           precision=args.precision, device=args.device),
                           label_names=labels, progress=False)  # fmt: skip
        lora.fit(texts, targets)
        training = lora.history[1]["seconds"]  # the second half, as for finetune
        scoring = [timed(lambda: lora.predict(test)) for _ in range(2)]
        step = training / half
        lines.append(
            f"| lora (score) | gemma-3-270m (268M) | steps {half + 1} to {2 * half} of batch 8: {training:.1f} s; "
            f"predict {len(test)}: {scoring[0]:.2f} s, again {scoring[1]:.2f} s | {step:.2f} s per step | "
            f"{PAPER_LORA_STEPS} steps: {PAPER_LORA_STEPS * step / 60:.1f} min |"
        )
    lines += [
        "",
        "Times are of training steps alone (the second epoch; the second half of the steps), as the "
        "students record them in their history; predictions include tokenising, and the first one also the "
        "first use of each kernel at its shapes.",
    ]
    suffix = "" if args.precision == "float32" else f"_{args.precision}"
    bench_output.write_markdown(f"torch_students_{device.type}{suffix}", lines)


if __name__ == "__main__":
    main()
