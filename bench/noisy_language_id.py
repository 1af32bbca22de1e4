"""The language-ID filter on human tweets: what share does it keep? Every XLM-T tweet in ../shared/data is in its
stated language (human-collected per language), so the filter should keep nearly all of them.

For each language: the filter as it runs in generation (`check_language` with the default probability floor,
0.1) on the tweets' test split, and the reasons of what it drops. Hindi is mostly romanised (Latin script),
so it is checked both as `hin` (Devanagari expected) and as `hin_Latn`.

Run: python bench/noisy_language_id.py [--split test] [--min-probability 0.1]
"""

from __future__ import annotations

import argparse
import json
import platform
from collections import Counter
from pathlib import Path

from synthdistill.generation.language_id import check_language
from synthdistill.languages import resolve_language

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "xlmt_sentiment"
CODES = ["ara", "deu", "eng", "fra", "hin", "hin_Latn", "ita", "por", "spa"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--min-probability", type=float, default=0.1)
    args = parser.parse_args()
    print(f"# Language ID on XLM-T human tweets ({args.split} split; {platform.machine()}, Python "
          f"{platform.python_version()})")  # fmt: skip
    print()
    print(f"Probability floor {args.min_probability}. Kept: the share of tweets the filter keeps.")
    print()
    print("| language | tweets | kept | kept share | most common drop reasons |")
    print("|---|---:|---:|---:|---|")
    total = kept_total = 0
    for code in CODES:
        folder = DATA / code.split("_")[0]
        texts = [json.loads(line)["text"] for line in (folder / f"{args.split}.jsonl").read_text("utf-8").splitlines()]
        language = resolve_language(code)
        checks = [check_language(text, language, args.min_probability) for text in texts]
        kept = sum(check.ok for check in checks)
        reasons = Counter(check.reason.split(":")[0] + (":" + check.reason.split(":")[1] if ":" in check.reason and
                                                        not check.reason.startswith("uncertain") else "")
                          for check in checks if not check.ok)  # fmt: skip
        common = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common(4)) or "–"
        print(f"| {code} | {len(texts)} | {kept} | {kept / len(texts):.1%} | {common} |")
        if code != "hin":
            total, kept_total = total + len(texts), kept_total + kept
    print()
    print(f"All languages (Hindi as hin_Latn): {kept_total} of {total} kept ({kept_total / total:.1%}).")


if __name__ == "__main__":
    main()
