"""The command line: errors as one line with a non-zero exit, and the whole job end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import tiny_config_dict, write_jsonl


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synthdistill", *args], capture_output=True, text=True, cwd=cwd, timeout=900
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("synthdistill: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_lists_the_commands():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "generate", "train", "classify", "evaluate", "predict"):
        assert command in result.stdout


def test_bad_config_fails_before_any_work(tiny_project):
    raw = yaml.safe_load((tiny_project / "config.yaml").read_text())
    raw["teacher"]["max_concurency"] = 3
    (tiny_project / "bad.yaml").write_text(yaml.safe_dump(raw))
    result = cli("run", str(tiny_project / "bad.yaml"), "--out", str(tiny_project / "out"))
    assert_one_line_error(result, "bad.yaml", "teacher.max_concurency", "Extra inputs")
    assert not (tiny_project / "out").exists()


def test_missing_data_file(tiny_project):
    (tiny_project / "data/en/test.jsonl").unlink()
    result = cli("run", str(tiny_project / "config.yaml"), "--out", str(tiny_project / "out"))
    assert_one_line_error(result, "data/en/test.jsonl", "file not found")
    assert not (tiny_project / "out/results.json").exists()


def test_label_not_in_task(tiny_project):
    write_jsonl(tiny_project / "data/en/seed.jsonl", [{"text": "A film premiere.", "label": "entertainment"}])
    result = cli("generate", str(tiny_project / "config.yaml"), "--out", str(tiny_project / "out"))
    assert_one_line_error(result, "seed.jsonl:1", "'entertainment' is not in the task")
    assert not (tiny_project / "out/synthetic.jsonl").exists()


def test_teacher_down(tiny_project):
    raw = tiny_config_dict(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", max_retries=1)
    (tiny_project / "down.yaml").write_text(yaml.safe_dump(raw))
    result = cli("run", str(tiny_project / "down.yaml"), "--out", str(tiny_project / "out"), "--no-progress")
    assert_one_line_error(result, "teacher at http://127.0.0.1:9/v1", "failed after 2 attempts", "connection failed")
    for output in ("synthetic.jsonl", "results.json", "report.md"):
        assert not (tiny_project / "out" / output).exists()


def test_predict_needs_a_saved_student(tmp_path):
    assert_one_line_error(cli("predict", str(tmp_path), "--text", "x"), "no saved student")


@pytest.mark.slow
def test_run_end_to_end_on_the_embedded_teacher_then_rerun_from_cache(tiny_project):
    out = tiny_project / "out"
    first = cli("run", "config.yaml", "--out", "out", "--no-progress", cwd=tiny_project)
    assert first.returncode == 0, first.stderr
    assert "teacher-0shot" in first.stdout and "tfidf" in first.stdout
    sent_line = next(line for line in first.stdout.splitlines() if line.startswith("teacher requests:"))
    sent = int(sent_line.split()[2])
    assert sent >= 6 + 2 * 6 and "0 from cache" in sent_line  # 6 samples, then 6 test texts x 2 settings

    records = json.loads((out / "results.json").read_text())
    keys = {"task", "language", "classifier", "train_source", "n_train", "n_test", "macro_f1", "accuracy"}
    assert all(keys <= set(r) for r in records)
    by_name = {(r["classifier"], r["train_source"]): r for r in records}
    assert set(by_name) == {
        ("teacher-0shot", "none"),
        ("teacher-0shot-calibrated", "none"),
        ("teacher-1shot", "human"),
        ("teacher-1shot-calibrated", "human"),
        ("tfidf", "synthetic"),
        ("tfidf", "human"),
    }
    assert by_name[("teacher-1shot", "human")]["n_train"] == 2
    assert by_name[("tfidf", "human")]["n_train"] == 6
    assert all(r["n_test"] == 6 and 0 <= r["macro_f1"] <= 1 for r in records)

    synthetic = [json.loads(line) for line in (out / "synthetic.jsonl").read_text().splitlines()]
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert len(synthetic) + len(dropped) == 6
    assert by_name[("tfidf", "synthetic")]["n_train"] == len(synthetic)
    for row in synthetic:
        assert row["language"] == "en" and row["label"] in ("sports", "politics")
        assert row["teacher"] == "gemma-3-270m-q4_k_m" and row["template"] == "generate.completion.v2"
    assert "## English (en)" in (out / "report.md").read_text()
    assert yaml.safe_load((out / "config.yaml").read_text())["task"]["name"] == "tiny-topic"

    again = cli("run", "config.yaml", "--out", "out", "--no-progress", cwd=tiny_project)
    assert again.returncode == 0, again.stderr
    assert f"teacher requests: 0 sent, {sent} from cache" in again.stdout
    assert json.loads((out / "results.json").read_text()) == records

    student = out / "students/tfidf-human/en"
    predicted = cli(
        "predict",
        str(student),
        "--text",
        "The team won the cup final.",
        "--text",
        "The parliament passed the law on elections.",
    )
    assert predicted.returncode == 0, predicted.stderr
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["sports", "politics"]
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-9 for r in rows)


def test_generate_and_export_through_a_local_openai_server(tiny_project):
    from tests.fault_server import fault_server

    with fault_server([("echo",)] * 6) as server:
        raw = tiny_config_dict(backend="openai", base_url=server.url, model="m", mode="completion")
        (tiny_project / "srv.yaml").write_text(yaml.safe_dump(raw))
        result = cli("generate", "srv.yaml", "--out", "out", "--export", "out/s.parquet", cwd=tiny_project)
    assert result.returncode == 0, result.stderr
    assert "6 synthetic samples" in result.stdout and "0 dropped" in result.stdout
    assert "teacher requests: 6 sent, 0 from cache" in result.stdout
    import pyarrow.parquet as pq

    exported = pq.read_table(tiny_project / "out/s.parquet").to_pylist()
    assert sorted(r["label"] for r in exported) == ["politics"] * 3 + ["sports"] * 3
    assert all(r["text"].startswith(f"A fine sentence about {r['label']}") for r in exported)
    assert all(r["teacher"] == "m" and r["template"] == "generate.completion.v2" for r in exported)


def down_config(tiny_project: Path, **teacher: object) -> str:
    """A config whose teacher is down (nothing listens on port 9), so a run fails at its first request."""
    raw = tiny_config_dict(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", max_retries=0, **teacher)
    (tiny_project / "down.yaml").write_text(yaml.safe_dump(raw))
    return "down.yaml"


def test_a_base_url_without_scheme_is_one_line(tiny_project):
    raw = tiny_config_dict(backend="openai", base_url="127.0.0.1:8000/v1", model="m")
    (tiny_project / "noscheme.yaml").write_text(yaml.safe_dump(raw))
    result = cli("generate", "noscheme.yaml", "--out", "out", cwd=tiny_project)
    assert_one_line_error(result, "noscheme.yaml", "teacher.base_url", "'127.0.0.1:8000/v1' is not an http://")


@pytest.mark.parametrize("command", ["run", "generate", "train", "classify", "evaluate"])
def test_out_that_is_a_file_is_one_line(tiny_project, command):
    (tiny_project / "taken").write_text("not a folder")
    result = cli(command, "config.yaml", "--out", "taken", cwd=tiny_project)
    assert_one_line_error(result, "--out taken: is a file; give a folder")
    assert (tiny_project / "taken").read_text() == "not a folder"


def test_export_under_a_file_fails_before_any_request(tiny_project):
    (tiny_project / "a_file").write_text("x")
    result = cli("generate", down_config(tiny_project), "--out", "out", "--export", "a_file/s.jsonl", cwd=tiny_project)
    assert_one_line_error(result, "--export a_file/s.jsonl: a_file is a file, not a folder")
    assert not (tiny_project / "out").exists()  # checked before the teacher was asked anything


def test_predict_output_that_is_a_folder_is_one_line(tmp_path):
    from synthdistill.students.tfidf import TfidfStudent
    from tests.conftest import POLITICS, SPORTS

    TfidfStudent().fit(SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6).save(tmp_path / "student")
    result = cli("predict", str(tmp_path / "student"), "--text", "a match", "--output", str(tmp_path))
    assert_one_line_error(result, "--output", "is a folder; give a file name")


@pytest.mark.parametrize("command", ["predict", "serve"])
def test_a_student_that_is_a_file_is_one_line(tmp_path, command):
    (tmp_path / "student.json").write_text("{}")
    extra = ["--text", "a match"] if command == "predict" else []
    result = cli(command, str(tmp_path / "student.json"), *extra)
    assert_one_line_error(result, "student.json: is a file; give the folder of a saved student")


def test_a_failed_run_leaves_the_earlier_outputs_intact(tiny_project, fake_backend, monkeypatch):
    """Before: `run` deleted results.json and report.md before it reached the teacher, and every failing stage
    overwrote config.yaml."""
    from synthdistill import pipeline
    from synthdistill.config import load_config
    from synthdistill.teachers.teacher import Teacher

    monkeypatch.setattr(pipeline, "open_teacher", lambda *a, **k: Teacher(fake_backend, progress=False))
    pipeline.run(load_config(tiny_project / "config.yaml"), tiny_project / "out", progress=False)
    out = tiny_project / "out"
    names = ["config.yaml", "results.json", "report.md", "synthetic.jsonl", "dataset_card.md",
             "teacher_results.json", "students/index.json", "students/tfidf-synthetic/en/student.json"]  # fmt: skip
    before = {name: (out / name).read_bytes() for name in names}

    for command in ("run", "generate", "classify"):
        result = cli(command, down_config(tiny_project), "--out", "out", "--no-progress", cwd=tiny_project)
        assert_one_line_error(result, "teacher at http://127.0.0.1:9/v1")
        assert {name: (out / name).read_bytes() for name in names} == before, command
    assert (out / "incomplete-run").is_dir()  # what the failed run wrote, to look at

    again = cli("evaluate", "config.yaml", "--out", "out", cwd=tiny_project)  # the earlier outputs still work
    assert again.returncode == 0, again.stderr
    monkeypatch.setattr(pipeline, "open_teacher", lambda *a, **k: Teacher(fake_backend, progress=False))
    pipeline.run(load_config(tiny_project / "config.yaml"), out, progress=False)  # a run after the failed one
    assert not (out / "incomplete-run").exists() and not (out / "incomplete-train").exists()
    assert (out / "results.json").read_bytes() == before["results.json"]


def test_outputs_follow_the_umask(tiny_project):
    import os
    import stat

    from tests.fault_server import fault_server

    with fault_server([("echo",)] * 12) as server:
        raw = tiny_config_dict(backend="openai", base_url=server.url, model="m", mode="completion")
        (tiny_project / "srv.yaml").write_text(yaml.safe_dump(raw))
        for umask, expected in ((0o022, 0o644), (0o027, 0o640)):
            out = f"out-{umask:o}"
            result = subprocess.run(
                [sys.executable, "-m", "synthdistill", "generate", "srv.yaml", "--out", out, "--no-progress"],
                capture_output=True, text=True, cwd=tiny_project, timeout=300, preexec_fn=lambda m=umask: os.umask(m),
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            for name in ("synthetic.jsonl", "dropped.jsonl", "dataset_card.md", "config.yaml", "cache.sqlite"):
                assert stat.S_IMODE((tiny_project / out / name).stat().st_mode) == expected, (name, umask)


def test_a_student_name_with_dots_and_slashes_is_refused(tiny_project):
    raw = tiny_config_dict()
    raw["students"] = [{"type": "tfidf", "name": "../../../escaped"}]
    (tiny_project / "escape.yaml").write_text(yaml.safe_dump(raw))
    result = cli("run", "escape.yaml", "--out", "out", cwd=tiny_project)
    assert_one_line_error(result, "students[0].name: must be a plain folder name")
    assert not (tiny_project / "out").exists() and not (tiny_project.parent.parent / "escaped").exists()


def test_a_pasted_key_is_neither_echoed_nor_saved(tiny_project):
    key = "sk-proj-Zq8vR2mN5xT1wK7pL3aB9c"
    result = cli("generate", down_config(tiny_project, api_key_env=key), "--out", "out", cwd=tiny_project)
    assert_one_line_error(result, "teacher.api_key_env", "looks like a key itself")
    assert key not in result.stderr + result.stdout and not (tiny_project / "out").exists()


def test_run_repeats_through_the_command_line(tiny_project, fake_backend, monkeypatch, capsys):
    """`run --repeats 2`: two whole jobs with generation seeds 0 and 1 in repeat-1/ and repeat-2/, one shared
    request cache (the second run's teacher classification is free), and repeats.json/md over both."""
    from synthdistill import cli as command_line
    from synthdistill import pipeline
    from synthdistill.teachers.cache import RequestCache
    from synthdistill.teachers.teacher import Teacher

    opened: list[Teacher] = []

    def teacher(spec, cache_path, **kwargs):
        opened.append(Teacher(fake_backend, RequestCache(cache_path), progress=False))
        return opened[-1]

    monkeypatch.setattr(pipeline, "open_teacher", teacher)
    config, out = str(tiny_project / "config.yaml"), tiny_project / "out"
    assert command_line.main(["run", config, "--out", str(out), "--repeats", "2", "--no-progress"]) == 0
    first, second = (
        [json.loads(line) for line in (out / f"repeat-{k}/synthetic.jsonl").read_text().splitlines()] for k in (1, 2)
    )
    assert {r["seed"] for r in first}.isdisjoint({r["seed"] for r in second})  # different generation seeds
    sent = [t.stats.sent for t in opened]
    assert sent[1] < sent[0]  # the second run's teacher classification came from the cache
    rows = json.loads((out / "repeats.json").read_text())
    tfidf = next(r for r in rows if r["classifier"] == "tfidf" and r["train_source"] == "synthetic")
    per_run = [
        next(r for r in json.loads((out / f"repeat-{k}/results.json").read_text())
             if r["classifier"] == "tfidf" and r["train_source"] == "synthetic")["macro_f1"]
        for k in (1, 2)
    ]  # fmt: skip
    assert tfidf["macro_f1"]["mean"] == pytest.approx(sum(per_run) / 2, abs=1e-4)
    assert "2 runs" in (out / "repeats.md").read_text()
    assert "repeats.md" in capsys.readouterr().out
    assert command_line.main(["run", config, "--out", str(out), "--repeats", "0"]) == 2
