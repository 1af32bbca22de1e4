"""The review page's screenshot in docs/images/review.png, from a real run: the embedded teacher writes a few
SIB-200 topic sentences in English and Swahili with its own check as a classifier on (so the page has teacher
probabilities), then `synthdistill review` serves the folder and headless Chromium takes the picture.

Run from the repository root: python docs/make_review_screenshot.py [--out runs/review-shot] (a few minutes on
2 cores; the run folder is kept and reused).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "review-shot")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "examples" / "sib200-topic.yaml").read_text(encoding="utf-8"))
    config["task"]["languages"] = ["eng_Latn", "swh_Latn"]
    config["generation"]["samples_per_label"] = 5
    config["source"] = {"default": "in_language"}
    config["filters"]["teacher_check"] = True
    config["data"] = {split: str(ROOT / "examples" / path) for split, path in config["data"].items()}
    args.out.mkdir(parents=True, exist_ok=True)
    config_file = args.out.parent / f"{args.out.name}.yaml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    if not (args.out / "synthetic.jsonl").is_file():
        subprocess.run([sys.executable, "-m", "synthdistill", "generate", str(config_file), "--out", str(args.out)],
                       check=True)  # fmt: skip
    sys.path.insert(0, str(ROOT))
    from tests.web_helpers import chromium, free_port, wait_for_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "synthdistill", "review", str(args.out), "--port", str(port),
                               "--reviewer", "docs"])  # fmt: skip
    try:
        if not wait_for_port(port, server):
            raise SystemExit("the review server did not start")
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1500, "height": 860})
            page.goto(f"http://127.0.0.1:{port}/")
            page.select_option("#f-language", "swh_Latn")
            page.wait_for_selector("#rows tr.row td:text-is('swh_Latn')")
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.wait_for_selector("#probabilities div")
            page.wait_for_selector("#neighbours p, #neighbours span:text('none alike')")
            page.screenshot(path=str(ROOT / "docs" / "images" / "review.png"))
    finally:
        server.terminate()
        server.wait(10)
    print(f"written: {ROOT / 'docs' / 'images' / 'review.png'}")


if __name__ == "__main__":
    main()
