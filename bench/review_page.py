"""`synthdistill review` on a run with 100,000 samples: does the page stay responsive? Goal: first paint and each
filter under 300 ms.

The run folder is built from the paper's Llama-3-70B topic samples in its 11 languages (../shared/data/paper),
repeated with a numbered suffix up to --samples, a tenth of them written to dropped.jsonl with a filter's reason,
and every sample given teacher probabilities drawn at random (seeded: the bench times the confidence filter, it
does not judge the teacher). The server is the real CLI (`python -m synthdistill review`) in its own process;
headless Chromium (Playwright) drives the page. Each step is timed from the browser action until the page has
rendered the new rows, so Playwright's own round trips are inside the figures (they are upper bounds).

Run: python bench/review_page.py [--samples 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.web_helpers: the browser and the port helpers the tests use
DATA = HERE.parent.parent / "shared" / "data" / "paper" / "topic"
REASONS = ["near_duplicate", "wrong_language:en", "teacher_check:politics", "too_short", "duplicate"]


def build_run(folder: Path, samples: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    labels = json.loads((DATA / "labels.json").read_text(encoding="utf-8"))
    labels = [label if isinstance(label, str) else label["name"] for label in labels]
    rows = []
    for path in sorted(DATA.glob("*/synthetic.jsonl")):
        language = path.parent.name
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rows.append((language, row["label"], row["text"]))
    synthetic, dropped = [], []
    for i in range(samples):
        language, label, text = rows[i % len(rows)]
        text = text if i < len(rows) else f"{text} ({i // len(rows)})"
        weights = [rng.random() for _ in labels]
        weights[labels.index(label)] += rng.random() * 3
        total = sum(weights)
        probabilities = {name: round(weight / total, 4) for name, weight in zip(labels, weights, strict=True)}
        meta = {"teacher": "llama-3-70b", "template": "generate.completion.v2", "n_demos": 2, "round": 0,
                "sample_index": i, "teacher_probabilities": probabilities}  # fmt: skip
        row = {"text": text, "label": label, "language": language, **meta}
        if i % 10 == 9:
            dropped.append({**row, "reason": REASONS[(i // 10) % len(REASONS)]})
        else:
            synthetic.append(row)
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in (("synthetic.jsonl", synthetic), ("dropped.jsonl", dropped)):
        with (folder / name).open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in part)
    languages = sorted({language for language, _, _ in rows})
    config = {
        "task": {"name": "topic", "domain": "sentences", "label_kind": "topic", "languages": languages,
                 "labels": [{"name": label, "description": label} for label in labels]},
        "data": {"seed": str(DATA / "{lang}" / "train.jsonl"), "test": str(DATA / "{lang}" / "test.jsonl")},
        "filters": {"language_id": True},
        "students": [{"type": "tfidf"}],
    }  # fmt: skip
    (folder / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def start_server(folder: Path) -> tuple[subprocess.Popen, str, float]:
    from tests.web_helpers import free_port, wait_for_port

    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "synthdistill", "review", str(folder), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    if not wait_for_port(port, process, 300):
        raise SystemExit(f"the review server did not start: {process.communicate()[1]}")
    return process, f"http://127.0.0.1:{port}/", time.perf_counter() - started


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(page, action) -> tuple[float, float]:
    """Milliseconds until the page painted the rows it asked for: as the page measured it (from the browser
    event to the frame that shows the rows) and as seen from here (Playwright's round trips included)."""
    before = page.get_attribute("body", "data-loaded") or "0"
    start = time.perf_counter()
    action()
    page.wait_for_selector(f"body:not([data-loaded='{before}'])", timeout=30_000)
    outside = (time.perf_counter() - start) * 1000
    return float(page.get_attribute("body", "data-took") or "nan"), outside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from tests.web_helpers import chromium

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        build_run(folder, args.samples)
        os.sync()  # the folder's 40 MB on disk now: the first decision's fsync should not be flushing them
        process, url, startup = start_server(folder)
        timings: dict[str, list[tuple[float, float]]] = {}
        try:
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    page.goto(url)
                    page.wait_for_selector("body[data-loaded]", timeout=30_000)
                    outside = (time.perf_counter() - start) * 1000
                    inside = float(page.get_attribute("body", "data-took") or "nan")
                    timings.setdefault("first paint (from navigation)", []).append((inside, outside))
                    first = page.eval_on_selector("#f-language", "s => s.options[1].value")

                    def change(selector: str, value: str) -> None:
                        page.fill(selector, value)
                        page.dispatch_event(selector, "change")

                    steps = [
                        ("language", lambda: page.select_option("#f-language", first)),  # noqa: B023
                        ("label", lambda: page.select_option("#f-label", index=2)),
                        ("status: dropped", lambda: page.select_option("#f-status", "dropped")),
                        ("status: all", lambda: page.select_option("#f-status", "all")),
                        ("drop reason", lambda: page.select_option("#f-reason", "near_duplicate")),
                        ("drop reason: any", lambda: page.select_option("#f-reason", "")),
                        ("teacher confidence ≤ 0.3", lambda: change("#f-max", "0.3")),
                        ("teacher confidence: any", lambda: change("#f-max", "")),
                        ("label: all", lambda: page.select_option("#f-label", "")),
                        ("language: all (100,000 rows)", lambda: page.select_option("#f-language", "")),
                        ("search over all samples*", lambda: page.fill("#f-q", "2019")),
                        ("search cleared*", lambda: page.fill("#f-q", "")),
                    ]
                    for name, action in steps:
                        timings.setdefault(name, []).append(timed(page, action))
                    page.keyboard.press("Escape")  # out of the search box
                    timings.setdefault("next page (key n)", []).append(timed(page, lambda: page.keyboard.press("n")))
                    page.wait_for_selector("tr.row.selected")
                    start = time.perf_counter()
                    page.keyboard.press("x")
                    page.wait_for_selector("#status:text('saved')")
                    timings.setdefault("drop (key x) until saved on disk", []).append(
                        (float("nan"), (time.perf_counter() - start) * 1000)
                    )
                    page.keyboard.press("u")
                    page.wait_for_selector("#status:text('undone')")
        finally:
            server_peak = peak_mb(process.pid)
            process.terminate()
            process.wait(10)

    def figure(values: list[float]) -> str:
        values = [v for v in values if v == v]
        return f"{statistics.median(values):.0f} | {max(values):.0f}" if values else "– | –"

    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"# `synthdistill review` on {args.samples:,} samples ({machine})")
    print()
    print(
        f"The paper's topic samples in 11 languages, 7 labels, repeated to {args.samples:,}; a tenth in dropped.jsonl; "
        f"teacher probabilities drawn at random. Headless Chromium; {args.repeats} repeats (a page load each). "
        "Goal: first paint and each filter under 300 ms."
    )
    print()
    print(
        f"Server start (read and index the run, before the port opens): {startup:.1f} s; "
        f"server peak memory {server_peak:.0f} MB."
    )
    print()
    print("| step | in the page: median ms | max ms | seen by Playwright: median ms | max ms |")
    print("|---|---|---|---|---|")
    for name, values in timings.items():
        print(f"| {name} | {figure([v[0] for v in values])} | {figure([v[1] for v in values])} |")
    print()
    print("In the page: from the browser event (or navigation start) to the frame that shows the rows.")
    paints = ", ".join(f"{inside:.0f}" for inside, _ in timings["first paint (from navigation)"])
    print(f"First paint in each repeat, in order (the first in a browser just started): {paints} ms.")
    drops = ", ".join(f"{outside:.0f}" for _, outside in timings["drop (key x) until saved on disk"])
    print(f"Drop until saved, in each repeat: {drops} ms.")
    print("*A search waits 150 ms after the last key stroke before it asks; its figures include that wait.")


if __name__ == "__main__":
    main()
