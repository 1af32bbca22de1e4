"""Kill a generation run hard (SIGKILL) in the middle, run it again: nothing lost, nothing paid twice."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import yaml

from tests.conftest import tiny_config_dict
from tests.fault_server import fault_server

N_PER_LABEL = 20


def test_sigkill_then_resume(tiny_project):
    with fault_server([("echo", 0.05)] * 1000) as server:
        raw = tiny_config_dict(backend="openai", base_url=server.url, model="m", mode="completion", max_concurrency=2)
        raw["generation"]["samples_per_label"] = N_PER_LABEL
        raw["filters"] = {"min_chars": 10, "language_id": False, "near_duplicate_threshold": None}
        (tiny_project / "kill.yaml").write_text(yaml.safe_dump(raw))
        command = [sys.executable, "-m", "synthdistill", "generate", "kill.yaml", "--out", "out", "--no-progress"]
        process = subprocess.Popen(command, cwd=tiny_project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(server.received) < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        assert process.returncode == -signal.SIGKILL
        first_run = len(server.received)
        assert 15 <= first_run < 2 * N_PER_LABEL
        assert not (tiny_project / "out/synthetic.jsonl").exists()  # no output passes for complete

        with sqlite3.connect(tiny_project / "out/cache.sqlite") as db:
            answered = {(r["prompt"], r["seed"]) for (text,) in db.execute("SELECT request FROM answers")
                        for r in [json.loads(text)]}  # fmt: skip
        assert len(answered) >= first_run - 6  # lost: requests in flight and answers of the last 0.1 s

        second = subprocess.run(command, cwd=tiny_project, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        resent = [(p["prompt"], p["seed"]) for p in server.received[first_run:]]

    assert not answered & set(resent)  # nothing answered before the kill is sent again
    assert len(resent) == 2 * N_PER_LABEL - len(answered)
    assert f"{len(resent)} sent, {len(answered)} from cache" in second.stdout
    rows = [json.loads(line) for line in (tiny_project / "out/synthetic.jsonl").read_text().splitlines()]
    slots = [(r["label"], r["sample_index"]) for r in rows]
    assert sorted(slots) == sorted((label, i) for label in ("sports", "politics") for i in range(N_PER_LABEL))
