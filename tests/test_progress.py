"""Progress where stderr is no terminal: plain lines every interval, a last line, nothing for short stages."""

import io
import os
import subprocess
import sys

from synthdistill.progress import PlainProgress, plain_interval_s
from synthdistill.teachers.protocol import Completion, CompletionRequest
from synthdistill.teachers.teacher import Teacher
from tests.conftest import FakeBackend


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_interval_with_rate_and_time_left_then_a_last_line():
    clock, stream = Clock(), io.StringIO()
    bar = PlainProgress(100, "generating", "req", interval_s=30, stream=stream, clock=clock)
    for _ in range(100):
        clock.now += 1.0  # one request a second
        bar.update()
        bar.set_postfix(sent=bar.n, tokens=bar.n * 10)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "generating: 30/100 (30%), 1.00 req/s, about 1m10s left, sent 29, tokens 290"
    assert [line.split(":")[1].split(",")[0].strip() for line in lines] == [
        "30/100 (30%)",
        "60/100 (60%)",
        "90/100 (90%)",
        "100/100 (100%)",
    ]
    assert lines[-1] == "generating: 100/100 (100%), 1.00 req/s, done in 1m40s, sent 100, tokens 1000"


def test_a_stage_shorter_than_the_interval_prints_nothing():
    clock, stream = Clock(), io.StringIO()
    with PlainProgress(10, "scoring", interval_s=30, stream=stream, clock=clock) as bar:
        for _ in range(10):
            clock.now += 1.0
            bar.update()
    assert stream.getvalue() == ""


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SYNTHDISTILL_PROGRESS_INTERVAL_S", "5")
    assert plain_interval_s() == 5.0
    monkeypatch.setenv("SYNTHDISTILL_PROGRESS_INTERVAL_S", "soon")
    assert plain_interval_s() == 30.0


def test_the_teacher_reports_to_a_log_and_is_silent_without_progress(monkeypatch, capsys):
    monkeypatch.setenv("SYNTHDISTILL_PROGRESS_INTERVAL_S", "0")
    requests = [CompletionRequest(prompt=f"p{i}") for i in range(5)]
    Teacher(
        FakeBackend(lambda r: Completion("answer", "stop", prompt_tokens=3, completion_tokens=1)), progress=True
    ).complete_many(requests, desc="generating")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("generating: 1/5 (20%), ") and "sent 1" in lines[0] and "tokens" in lines[0]
    assert lines[-1].startswith("generating: 5/5 (100%), ") and "done in" in lines[-1]
    Teacher(
        FakeBackend(lambda r: Completion("answer", "stop", prompt_tokens=3, completion_tokens=1)), progress=False
    ).complete_many(requests, desc="generating")
    assert capsys.readouterr().err == ""


def test_the_cli_prints_plain_lines_into_a_log(tiny_project):
    """stderr is a pipe here, as under nohup or CI; --no-progress silences the lines (each run in its own folder:
    a cached re-run sends nothing and has nothing to report)."""

    def generate(out: str, *flags: str) -> str:
        command = [sys.executable, "-m", "synthdistill", "generate", str(tiny_project / "config.yaml"),
                   "--out", str(tiny_project / out), *flags]  # fmt: skip
        env = {**os.environ, "SYNTHDISTILL_PROGRESS_INTERVAL_S": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert any(line.startswith("generating: ") and "req/s" in line for line in generate("shown").splitlines())
    assert "generating:" not in generate("quiet", "--no-progress")
