"""How long the paper's topic sentences are in Gemma 3 270M tokens, per language and split: whether the torch
students' max_length (128 in docs/results/paper-students) cuts any text, and how much longer the same
sentences are in Swahili, Telugu and Welsh than in English. finetune reads the text alone; lora's prompt
(the label list, "Text:", "Label:") and its longest answer share the same 128 tokens, so its texts have less
room.

Run: python bench/token_lengths.py [--data ../shared/data/paper] [--languages en sw te cy] [--max-length 128]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "paper")
    parser.add_argument("--task", default="topic")
    parser.add_argument("--languages", nargs="+", default=["en", "sw", "te", "cy"])
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from synthdistill.students.backbones import gemma_270m_folder
    from synthdistill.students.lora import _prompt_parts

    tokenizer = AutoTokenizer.from_pretrained(str(gemma_270m_folder()))
    labels = json.loads((args.data / args.task / "labels.json").read_text(encoding="utf-8"))
    head, tail = _prompt_parts(labels)
    answers = [len(tokenizer(" " + label, add_special_tokens=False)["input_ids"]) + 1 for label in labels]
    lora_room = (args.max_length - len(tokenizer(head)["input_ids"]) - len(tokenizer(tail, add_special_tokens=False)
                 ["input_ids"]) - max(answers))  # fmt: skip
    lines = [
        f"# Token lengths of the paper's {args.task} texts (Gemma 3 270M tokenizer)",
        "",
        f"Machine: {bench_output.machine()}. Data: {args.data}. Command: `python bench/token_lengths.py`.",
        "",
        f"Room for the text: finetune {args.max_length} tokens (with BOS), lora {lora_room} (after its prompt and "
        "longest answer).",
        "",
        "| language | split | texts | median tokens | 95th percentile | longest | cut by finetune | cut by lora |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for language in args.languages:
        for split in ("train", "synthetic", "test"):
            path = args.data / args.task / language / f"{split}.jsonl"
            texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]
            lengths = np.array([len(ids) for ids in tokenizer(texts)["input_ids"]])
            cut_finetune, cut_lora = (lengths > args.max_length).mean(), (lengths - 1 > lora_room).mean()
            lines.append(f"| {language} | {split} | {len(texts)} | {np.median(lengths):.0f} | "
                         f"{np.percentile(lengths, 95):.0f} | {lengths.max()} | {cut_finetune:.1%} | "
                         f"{cut_lora:.1%} |")  # fmt: skip
    bench_output.write_markdown("token_lengths", lines)


if __name__ == "__main__":
    main()
