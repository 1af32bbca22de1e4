"""The experiment runner on a tiny paper-layout grid: numbers, resume, config changes, executors, statistics."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from synthdistill import cli
from synthdistill.data import read_examples
from synthdistill.errors import ConfigError, DataError, SynthdistillError
from synthdistill.evaluation.intervals import interval, language_resampling, mean_interval, resampled_scores
from synthdistill.evaluation.scores import classification_scores
from synthdistill.experiments.config import ExperimentConfig, load_experiment_config, parse_experiment_config
from synthdistill.experiments.curves import curve_statistics, group_languages
from synthdistill.experiments.executors import InlineExecutor, LocalExecutor
from synthdistill.experiments.runner import (
    STUDENT_SPEC,
    ExperimentSummary,
    fresh_processes,
    plan_cells,
    run_experiment,
    summarise,
    training_sample,
    write_experiment_outputs,
)
from synthdistill.experiments.store import ResultStore
from synthdistill.experiments.teacher_line import TeacherPredictions, teacher_predictions
from tests.conftest import write_jsonl

CUES = {
    "sports": ["match", "goal", "team", "race", "coach", "league", "stadium", "score"],
    "politics": ["vote", "minister", "law", "election", "senate", "party", "policy", "treaty"],
    "health": ["doctor", "clinic", "vaccine", "disease", "nurse", "hospital", "therapy", "diet"],
}
FILLER = "the a of on in with and for today yesterday people city news report after before many some".split()


def _texts(label: str, count: int, rng: random.Random, cue_rate: float) -> list[str]:
    """Sentences of filler words where each word is a cue of the label with probability `cue_rate`:
    a few samples teach little, more teach more."""
    rows = []
    for _ in range(count):
        words = [rng.choice(CUES[label]) if rng.random() < cue_rate else rng.choice(FILLER) for _ in range(8)]
        rows.append(" ".join(words))
    return rows


def write_paper_layout(root: Path, languages: list[str], *, test_size: int = 12) -> Path:
    """`root/topic/labels.json` and `root/topic/<lang>/{train,synthetic,test}.jsonl`."""
    rng = random.Random(7)
    (root / "topic").mkdir(parents=True)
    (root / "topic/labels.json").write_text(json.dumps(list(CUES)))
    for language in languages:
        for split, count, rate in (("train", 30, 0.25), ("synthetic", 30, 0.35), ("test", test_size, 0.3)):
            rows = [{"text": t, "label": label} for label in CUES for t in _texts(label, count, rng, rate)]
            write_jsonl(root / f"topic/{language}/{split}.jsonl", rows)
    return root


def teacher_file(path: Path, scores: dict[str, float]) -> Path:
    rows = [
        {"task": "topic", "language": lang, "classifier": "teacher-0shot", "macro_f1": s} for lang, s in scores.items()
    ]
    path.write_text(json.dumps([*rows, {"task": "topic", "language": "en", "classifier": "other", "macro_f1": 0.99}]))
    return path


@pytest.fixture
def experiment_dir(tmp_path: Path) -> Path:
    write_paper_layout(tmp_path / "data", ["en", "cy"])
    teacher_file(tmp_path / "teacher.json", {"en": 0.6, "cy": 0.5})
    raw = {
        "name": "tiny",
        "data": "data",
        "tasks": ["topic"],
        "languages": ["en", "cy"],
        "sizes": [6, 15, 45],
        "sources": ["synthetic", "human"],
        "repeats": 3,
        "students": [{"type": "tfidf", "analyzer": "word", "ngram_range": [1, 1]}],
        "teacher": {"results": "teacher.json", "classifier": "teacher-0shot"},
    }
    (tmp_path / "experiment.yaml").write_text(yaml.safe_dump(raw))
    return tmp_path


def test_protocol_sizes_and_mixed_sampling(experiment_dir: Path) -> None:
    config = load_experiment_config(experiment_dir / "experiment.yaml")
    assert config.model_copy(update={"sizes": [3, 6, 10, 45, 600]}).grid(3) == [
        (3, 2), (6, 2), (10, 3), (45, 15), (600, 200)
    ]  # fmt: skip
    by_class = config.model_copy(update={"sizes": None, "per_class_sizes": [2, 5]})
    assert by_class.grid(3) == [(6, 2), (15, 5)]
    cells = plan_cells(config, experiment_dir / "work")
    assert len(cells) == 2 * 1 * 2 * 3 * 3  # languages x students x sources x sizes x repeats
    assert len({c.key for c in cells}) == len(cells)
    labels = list(CUES)
    pools = {s: read_examples(experiment_dir / f"data/topic/en/{f}.jsonl", labels) for s, f in
             (("human", "train"), ("synthetic", "synthetic"))}  # fmt: skip
    mixed = training_sample(pools, "mixed", 5, seed=3)
    human_texts = {e.text for e in pools["human"]}
    for label in labels:
        mine = [e for e in mixed if e.label == label]
        assert len(mine) == 5
        assert sum(e.text in human_texts for e in mine) == 3  # half rounded up from human data
    assert training_sample(pools, "synthetic", 4, seed=1) == training_sample(pools, "synthetic", 4, seed=1)
    assert training_sample(pools, "synthetic", 4, seed=1) != training_sample(pools, "synthetic", 4, seed=2)


def test_runner_numbers_resume_and_changed_config(experiment_dir: Path) -> None:
    config = load_experiment_config(experiment_dir / "experiment.yaml")
    out = experiment_dir / "out"
    first = run_experiment(config, out, executor=InlineExecutor(), progress=False)
    assert (first.ran, first.skipped) == (36, 0)
    rows = first.rows
    assert {r["n_train"] for r in rows if r["n"] == 6} == {6} and {r["n_train"] for r in rows if r["n"] == 45} == {45}
    # the learning curve rises: 15 per class beats 2 per class on average
    means = {(p.language, p.source, p.n): p.mean for p in first.points if p.student == "tfidf"}
    assert means[("all", "synthetic", 45)] > means[("all", "synthetic", 6)] + 0.1
    # the teacher line came from the file, the `classifier` filter chose the rows
    assert first.teacher[("topic", "en")] == 0.6 and first.teacher[("topic", "all")] == pytest.approx(0.55)
    point = next(p for p in first.points if (p.language, p.source, p.n) == ("en", "human", 15))
    scores = [r["macro_f1"] for r in rows if (r["language"], r["source"], r["n"]) == ("en", "human", 15)]
    assert point.mean == pytest.approx(sum(scores) / 3) and point.ci_low < point.mean < point.ci_high
    saved = json.loads((out / "results.json").read_text())
    assert len(saved["points"]) == len(first.points) and saved["crossovers"]
    assert (out / "report.md").is_file() and (out / "report.html").is_file()

    again = run_experiment(config, out, executor=InlineExecutor(), progress=False)
    assert (again.ran, again.skipped) == (0, 36)
    assert again.rows == rows

    raw = yaml.safe_load((experiment_dir / "experiment.yaml").read_text())
    raw["sizes"] = [6, 15, 45, 90]
    raw["students"].append({"type": "tfidf", "name": "char"})
    changed = parse_experiment_config(raw, base_dir=experiment_dir)
    third = run_experiment(changed, out, executor=InlineExecutor(), progress=False)
    assert (third.ran, third.skipped) == (2 * 2 * 2 * 4 * 3 - 36, 36)  # only the new size and the new student ran


def results_only(rows: list[dict]) -> list[dict]:
    """A cell's row without what the machine measured (seconds, memory), which no two runs share."""
    measured = ("fit_seconds", "predict_seconds", "peak_rss_mb", "process_cells_before")
    return [{k: v for k, v in row.items() if k not in measured} for row in rows]


def test_local_pool_gives_the_inline_numbers(experiment_dir: Path) -> None:
    config = load_experiment_config(experiment_dir / "experiment.yaml")
    config = config.model_copy(update={"languages": ["cy"], "sizes": [6, 45], "repeats": 2})
    inline = run_experiment(config, experiment_dir / "inline", executor=InlineExecutor(), progress=False)
    pooled = run_experiment(config, experiment_dir / "pool", executor=LocalExecutor(2), progress=False)
    assert pooled.ran == 8
    assert results_only(pooled.rows) == results_only(inline.rows)


def process_id(payload: dict) -> dict:
    return {"pid": os.getpid()}


@pytest.mark.parametrize("fresh", [False, True])
def test_a_new_worker_process_per_cell_where_asked(fresh: bool) -> None:
    results = dict(LocalExecutor(2).map_unordered(process_id, [{}] * 4, fresh_process_per_task=fresh))
    pids = {result["pid"] for result in results.values()}
    assert sorted(results) == [0, 1, 2, 3] and os.getpid() not in pids
    assert len(pids) == 4 if fresh else len(pids) <= 2


def test_grids_with_a_torch_student_give_each_cell_a_new_process(experiment_dir: Path) -> None:
    config = load_experiment_config(experiment_dir / "experiment.yaml")
    assert not fresh_processes(config)  # tfidf: cells share workers
    lora = STUDENT_SPEC.validate_python({"type": "lora"})
    with_lora = config.model_copy(update={"students": [*config.students, lora]})
    assert fresh_processes(with_lora)
    # and a row says how many cells its process ran before it: only a process's first has a clean peak
    pooled = run_experiment(config.model_copy(update={"languages": ["cy"], "sizes": [6], "repeats": 2}),
                            experiment_dir / "pool", executor=LocalExecutor(2), progress=False)  # fmt: skip
    assert sorted(row["process_cells_before"] for row in pooled.rows) in ([0, 0, 1, 1], [0, 0, 1, 2], [0, 1, 2, 3])


def test_crash_in_the_middle_keeps_finished_cells(experiment_dir: Path, capsys) -> None:
    """A run killed after some cells: the store has them, a report shows them alone, the re-run does the rest."""
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from synthdistill.experiments import runner as experiments
from synthdistill.experiments.executors import InlineExecutor
from synthdistill.experiments.config import load_experiment_config
original = experiments.run_cell
count = 0
def dying(payload):
    global count
    count += 1
    if count == 8:
        os._exit(9)
    return original(payload)
experiments.run_cell = dying
config = load_experiment_config({str(experiment_dir / "experiment.yaml")!r})
experiments.run_experiment(config, {str(experiment_dir / "out")!r}, executor=InlineExecutor(), progress=False)
"""
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert died.returncode == 9, died.stderr
    store = ResultStore(experiment_dir / "out/results.sqlite")
    config = load_experiment_config(experiment_dir / "experiment.yaml")
    cells = plan_cells(config, experiment_dir / "out/work")
    assert len(store.done(c.key for c in cells)) == 7
    store.close()
    # a look at the grid so far runs nothing and says what it left out
    out, yaml_file = str(experiment_dir / "out"), str(experiment_dir / "experiment.yaml")
    assert cli.main(["experiment", yaml_file, "--out", out, "--report-only", "--no-progress"]) == 0
    assert "7 from the store, 29 not run yet (left out of this report)" in capsys.readouterr().out
    assert json.loads((experiment_dir / "out/results.json").read_text())["cells"] == {"stored": 7, "missing": 29}
    assert len((experiment_dir / "out/cells.jsonl").read_text().splitlines()) == 7
    assert "Partial report (--report-only): 7 of 36 cells stored" in (experiment_dir / "out/report.md").read_text()
    empty = str(experiment_dir / "empty")
    assert cli.main(["experiment", yaml_file, "--out", empty, "--report-only", "--no-progress"]) == 2
    assert "results.sqlite: no cell of this grid is stored yet" in capsys.readouterr().err
    resumed = run_experiment(config, experiment_dir / "out", executor=InlineExecutor(), progress=False)
    assert (resumed.ran, resumed.skipped, resumed.missing) == (29, 7, 0)
    assert "Partial report" not in (experiment_dir / "out/report.md").read_text()
    fresh = run_experiment(config, experiment_dir / "fresh", executor=InlineExecutor(), progress=False)
    assert results_only(resumed.rows) == results_only(fresh.rows)


def test_failing_cells_do_not_stop_the_others_and_a_rerun_retries_only_them(experiment_dir: Path, capsys) -> None:
    """One language's test file has a label the task lacks: its cells fail in the pool's workers, the other
    language's cells are stored, and after the fix a rerun runs just the failed ones."""
    config = load_experiment_config(experiment_dir / "experiment.yaml")
    config = config.model_copy(update={"sizes": [6, 15], "repeats": 1})
    test_file = experiment_dir / "data/topic/cy/test.jsonl"
    good = test_file.read_text()
    test_file.write_text(good + json.dumps({"text": "heavy rain tomorrow", "label": "weather"}) + "\n")
    out = experiment_dir / "out"
    with pytest.raises(SynthdistillError) as failed:
        run_experiment(config, out, executor=LocalExecutor(2), progress=False)
    message = str(failed.value)
    assert message.startswith("4 of 8 experiment cells failed (topic cy tfidf on ")
    assert "weather" in message and "retries only the failed ones" in message and str(out / "failures.log") in message
    log = (out / "failures.log").read_text()
    assert log.count("\n== topic cy tfidf") + log.startswith("== topic cy tfidf") == 4 and "DataError" in log
    assert capsys.readouterr().err.count("synthdistill: cell failed: topic cy tfidf") == 4
    store = ResultStore(out / "results.sqlite")
    stored = store.rows(c.key for c in plan_cells(config, out / "work"))
    store.close()
    assert sorted((r["language"], r["source"], r["n"]) for r in stored.values()) == [
        ("en", source, n) for source in ("human", "synthetic") for n in (6, 15)
    ]
    assert not (out / "report.md").exists()

    test_file.write_text(good)
    fixed = run_experiment(config, out, executor=LocalExecutor(2), progress=False)
    assert (fixed.ran, fixed.skipped) == (4, 4)
    assert not (out / "failures.log").exists() and (out / "report.md").is_file()


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for a parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_pool_workers_end_when_the_experiment_process_is_killed(tmp_path: Path) -> None:
    """kill -9 of the experiment process: its workers stop within seconds instead of finishing cells nobody stores."""
    script = tmp_path / "long_cells.py"
    script.write_text(f"""
import os, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from synthdistill.experiments.executors import LocalExecutor

def long_cell(payload):
    open(payload["pid_file"], "w").write(str(os.getpid()))
    time.sleep(300)
    return {{}}

if __name__ == "__main__":
    payloads = [{{"pid_file": os.path.join(sys.argv[1], str(i))}} for i in range(2)]
    for _ in LocalExecutor(2).map_unordered(long_cell, payloads):
        pass
""")
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    pid_files = [tmp_path / "0", tmp_path / "1"]
    try:
        deadline = time.monotonic() + 120
        while not all(f.exists() and f.read_text() for f in pid_files):
            assert time.monotonic() < deadline and parent.poll() is None, "the workers never started their cells"
            time.sleep(0.2)
        workers = [int(f.read_text()) for f in pid_files]
        assert all(_running(pid) for pid in workers)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if _running(pid)], "workers outlived the experiment process"
    finally:
        parent.kill()
        for f in pid_files:
            if f.exists() and f.read_text() and _running(int(f.read_text())):
                os.kill(int(f.read_text()), signal.SIGKILL)


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"x.yaml: sizes: sizes must be >= 1"):
        parse_experiment_config({"data": ".", "tasks": ["t"], "languages": ["en"], "sizes": [0]}, source="x.yaml")
    with pytest.raises(ConfigError, match="languages: unknown language code 'xx-nope'"):
        parse_experiment_config({"data": ".", "tasks": ["t"], "languages": ["xx-nope"], "sizes": [2]})
    with pytest.raises(ConfigError, match="need `data`"):
        parse_experiment_config({"tasks": ["t"], "languages": ["en"], "sizes": [2]})
    with pytest.raises(ConfigError, match="repeats"):
        parse_experiment_config({"data": ".", "tasks": ["t"], "languages": ["en"], "sizes": [2], "repeats": 0})
    config = parse_experiment_config({"data": "none", "tasks": ["topic"], "languages": ["en"], "sizes": [2]},
                                     base_dir=tmp_path)  # fmt: skip
    with pytest.raises(DataError, match=r"labels\.json: label file not found"):
        plan_cells(config, tmp_path)


def test_statistics_interval_and_crossover() -> None:
    mean, std, low, high = mean_interval([0.5, 0.6, 0.7])
    assert (mean, std) == pytest.approx((0.6, 0.1))
    assert (low, high) == pytest.approx((0.6 - 0.24841, 0.6 + 0.24841), abs=1e-4)  # t(0.975, 2) = 4.3027
    by_n = {10: [0.40, 0.42, 0.38], 20: [0.49, 0.53, 0.56], 50: [0.70, 0.72, 0.71]}
    points, found = curve_statistics(("t", "en", "s", "synthetic"), by_n, teacher=0.5)
    # N=20: the mean is above 0.5, but one repeat in three is below it, so 1 resample in 27 is too: not sure at 95%
    assert [p.verdict for p in points] == ["worse", "not distinguishable", "better"]
    assert points[1].difference == pytest.approx(0.0267, abs=1e-4) and points[1].difference_ci[0] < 0
    assert found is not None and (found.n, found.n_mean, found.ci_low, found.ci_high) == (50, 20, 20, 50)
    # the band the plots draw: bootstrap means of 3 repeats lie between the smallest and the largest repeat
    assert points[1].mean_ci[0] >= 0.49 and points[1].mean_ci[1] <= 0.56
    assert points[1].mean_ci[0] < points[1].mean < points[1].mean_ci[1]
    _, never = curve_statistics(("t", "en", "s", "synthetic"), by_n, teacher=0.9)
    assert never is not None and never.n is None and never.n_mean is None and never.ci_low is None
    # 2 repeats: the t-interval is 12.7 standard errors wide, past 0 and 1; the bootstrap band stays in between
    [two] = curve_statistics(("t", "en", "s", "synthetic"), {10: [0.5, 0.7]}, teacher=None)[0]
    assert two.ci_low < 0 and two.ci_high > 1 and two.mean_ci == (0.5, 0.7)
    grouped = group_languages({("t", "a", "s", "x"): {10: [0.2, 0.4]}, ("t", "b", "s", "x"): {10: [0.6, 0.8]}},
                              {"g": ["a", "b"]})  # fmt: skip
    assert grouped[("t", "g", "s", "x")][10] == pytest.approx([0.4, 0.6])


def test_ray_executor_gives_the_inline_numbers(experiment_dir: Path) -> None:
    """A local Ray instance with 2 CPUs runs the same cells to the same scores."""
    import ray  # the test command installs the ray extra

    from synthdistill.experiments.executors import RayExecutor

    config = load_experiment_config(experiment_dir / "experiment.yaml")
    config = config.model_copy(update={"languages": ["en"], "sizes": [6, 45], "repeats": 2})
    inline = run_experiment(config, experiment_dir / "inline", executor=InlineExecutor(), progress=False)
    try:
        on_ray = run_experiment(config, experiment_dir / "ray", executor=RayExecutor(num_cpus=2), progress=False)
        fresh = dict(RayExecutor(num_cpus=2).map_unordered(process_id, [{}] * 3, fresh_process_per_task=True))
    finally:
        ray.shutdown()
    assert len({result["pid"] for result in fresh.values()}) == 3
    assert on_ray.ran == 8
    assert results_only(on_ray.rows) == results_only(inline.rows)
    assert [p.to_dict() for p in on_ray.points] == [p.to_dict() for p in inline.points]


def test_reproduce_finds_complete_tasks_and_builds_the_paper_grid(tmp_path: Path) -> None:
    from synthdistill.experiments.reproduction import PAPER_PER_CLASS, complete_tasks, paper_experiment

    data = write_paper_layout(tmp_path / "paper", ["en", "cy"])
    (data / "topic/cy/test.jsonl").rename(data / "topic/cy/held-out.jsonl")
    assert complete_tasks(data, ["en", "cy"]) == [] and complete_tasks(data, ["en"]) == ["topic"]
    with pytest.raises(DataError, match="no complete data for task"):
        paper_experiment(data, tasks=["topic"], languages=["en", "cy"])
    full = paper_experiment(data, languages=["en"])
    assert full.per_class_sizes == PAPER_PER_CLASS and full.repeats == 20 and full.sources == ["synthetic", "human"]
    assert [s.type for s in full.students] == ["tfidf", "embed"]
    task = full.task_specs()[0]
    assert (task.label_kind, task.labels) == ("topic", list(CUES))
    assert full.teacher is not None and full.teacher.dev_per_class == 5


def saved_crossovers(out: Path) -> list[dict]:
    return [c for c in json.loads((out / "results.json").read_text())["crossovers"] if c["student"] == "tfidf"]


def test_reproduce_command_with_a_teacher_results_file(tmp_path: Path) -> None:
    data = write_paper_layout(tmp_path / "paper", ["en", "cy"])
    teacher = teacher_file(tmp_path / "teacher.json", {"en": 0.6, "cy": 0.3})
    command = [sys.executable, "-m", "synthdistill", "reproduce", "--data", str(data), "--quick", "--students",
               "tfidf", "--languages", "en", "cy", "--repeats", "2", "--teacher-results", str(teacher),
               "--executor", "inline", "--out", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "cells: 16 run now (inline executor), 0 from the store" in done.stdout
    assert f"teacher line: teacher scores from {teacher}" in done.stdout
    crossing = next(c for c in saved_crossovers(tmp_path / "out") if c["language"] == "low-resource")
    said = "at no N of the grid" if crossing["n"] is None else f"from N = {crossing['n']}"
    expected = f"tfidf on synthetic is better than the teacher (0.300) at 95% {said} (its mean is above it from N = 30)"
    assert f"topic low-resource: {expected}" in done.stdout
    saved = json.loads((tmp_path / "out/results.json").read_text())
    assert {(t["language"], t["macro_f1"]) for t in saved["teacher"]} >= {("en", 0.6), ("cy", 0.3)}


@pytest.mark.slow
def test_teacher_line_from_the_embedded_teacher_chooses_on_a_drawn_dev_split(tmp_path: Path, monkeypatch) -> None:
    from synthdistill.experiments.reproduction import paper_experiment

    data = write_paper_layout(tmp_path / "paper", ["en"], test_size=3)
    config = paper_experiment(data, quick=True, languages=["en"], students=["tfidf"], repeats=1).model_copy(
        update={"per_class_sizes": [2], "base_dir": data}  # as if read from a file in another folder
    )
    monkeypatch.chdir(tmp_path)  # --out relative to where the command runs, not to the experiment file
    summary = run_experiment(config, "out", executor=InlineExecutor(), progress=False)
    assert "embedded backend" in summary.teacher_origin and "dev split of 5 human examples" in summary.teacher_origin
    dev = read_examples(tmp_path / "out/teacher/topic/dev/en.jsonl", list(CUES))
    pool = {e.text for e in read_examples(data / "topic/en/train.jsonl", list(CUES))}
    assert len(dev) == 15 and all(e.text in pool for e in dev)
    chosen = json.loads((tmp_path / "out/teacher/topic/teacher_results.json").read_text())
    best = next(r for r in chosen if r["classifier"] == "teacher-best-on-dev")
    assert best["setting"] in {"teacher-0shot", "teacher-0shot-calibrated"}
    assert summary.teacher[("topic", "en")] == best["macro_f1"]
    # the teacher run here kept its predictions: it is resampled on the students' test texts, not a fixed line
    assert summary.bootstrap["teachers_resampled"] == 1 and summary.bootstrap["cells_resampled"] == 2
    assert "The teacher is resampled on the same test texts" in (tmp_path / "out/report.md").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [("{oops", "not valid JSON"), ('{"a": 1}', "expected a JSON list"),
     ('[{"task": "topic"}]', "row 0: needs task"),
     ('[{"task": "topic", "language": "en", "macro_f1": "high"}]', "row 0: macro_f1 must be a number")],
)  # fmt: skip
def test_a_bad_teacher_results_file_is_a_clear_error(experiment_dir: Path, content: str, message: str) -> None:
    (experiment_dir / "teacher.json").write_text(content)
    config = load_experiment_config(experiment_dir / "experiment.yaml").model_copy(update={"languages": ["en"]})
    config = config.model_copy(update={"sizes": [6], "repeats": 1})
    with pytest.raises(DataError, match=message):
        run_experiment(config, experiment_dir / "out", executor=InlineExecutor(), progress=False)
    assert (
        len(ResultStore(experiment_dir / "out/results.sqlite").done(c.key for c in plan_cells(config, experiment_dir)))
        == 2
    )


def test_where_a_student_runs_is_no_part_of_a_cells_key(experiment_dir: Path) -> None:
    """A grid started on a CPU and continued on a GPU keeps its finished cells; a setting that changes what
    the student learns makes new ones."""
    raw = yaml.safe_load((experiment_dir / "experiment.yaml").read_text())

    def keys(**finetune: object) -> set[str]:
        raw["students"] = [{"type": "finetune", "backbone": "minilm", **finetune}]
        return {cell.key for cell in plan_cells(parse_experiment_config(raw, base_dir=experiment_dir), experiment_dir)}

    on_any = keys()
    assert keys(device="cuda:1") == keys(device="cpu") == on_any
    assert keys(epochs=3).isdisjoint(on_any)


# Cell keys computed by planning before cells stored predictions: a store made then must still be skipped.
OLD_FIRST_KEY = "cff403b84de6db03ab569a33b57392a6b9e0e92b479b7d0b5128c2698dadcfc2"
OLD_LAST_KEY = "993214ad0410db7d6198921fe100574e48b65feda8f1e918f4222f00c5697e3b"
OLD_ALL_KEYS = "423334b7f332ae8f3883e85d8534c090084a41abad50bd307e6562649c4d5c1c"


def test_cell_keys_are_those_of_stores_made_before_cells_kept_predictions(experiment_dir: Path) -> None:
    cells = plan_cells(load_experiment_config(experiment_dir / "experiment.yaml"), experiment_dir / "work")
    assert (cells[0].key, cells[-1].key) == (OLD_FIRST_KEY, OLD_LAST_KEY)
    assert hashlib.sha256("".join(c.key for c in cells).encode()).hexdigest() == OLD_ALL_KEYS
    assert {c.payload["bootstrap_seed"] for c in cells} == {1337}  # the experiment's seed, not the repeat's


def test_cells_keep_predictions_and_an_interval_over_the_experiments_resampling(experiment_dir: Path) -> None:
    config = load_experiment_config(experiment_dir / "experiment.yaml").model_copy(
        update={"languages": ["cy"], "sizes": [6], "sources": ["synthetic"], "repeats": 2}
    )
    summary = run_experiment(config, experiment_dir / "out", executor=InlineExecutor(), progress=False)
    gold = [e.label for e in read_examples(experiment_dir / "data/topic/cy/test.jsonl", list(CUES))]
    draws = language_resampling(len(gold), seed=config.seed, language="cy")  # the same for both repeats
    for row in summary.rows:
        predicted = [list(CUES)[i] if i >= 0 else None for i in row["predicted"]]
        assert len(predicted) == row["n_test"] == len(gold)
        assert classification_scores(gold, predicted, list(CUES))["macro_f1"] == row["macro_f1"]
        assert row["macro_f1_ci"] == interval(resampled_scores(gold, predicted, list(CUES), draws)["macro_f1"])
        assert row["macro_f1_ci"][0] <= row["macro_f1"] <= row["macro_f1_ci"][1]
    saved = [json.loads(line) for line in (experiment_dir / "out/cells.jsonl").read_text().splitlines()]
    assert [r["macro_f1_ci"] for r in saved] == [r["macro_f1_ci"] for r in summary.rows]
    results = json.loads((experiment_dir / "out/results.json").read_text())
    assert results["bootstrap"]["cells_resampled"] == 2 and results["bootstrap"]["teachers_resampled"] == 0
    point = next(p for p in results["points"] if p["language"] == "cy")
    assert point["difference"] == pytest.approx(point["mean"] - 0.5)
    assert point["verdict"] == ("better" if point["difference_ci"][0] > 0 else "not distinguishable")


# Hand-built cells on a 50-text test split, compared with the bootstrap done by hand.
LABELS = list(CUES)
GOLD = [LABELS[i % 3] for i in range(50)]


TeacherLine = tuple[dict[tuple[str, str], float], dict[tuple[str, str], TeacherPredictions]]


def right_on(count: int) -> list[str | None]:
    """Predictions right on the first `count` texts, the next label on the others."""
    return [g if i < count else LABELS[(LABELS.index(g) + 1) % 3] for i, g in enumerate(GOLD)]


def hand_built_experiment(root: Path, languages: list[str]) -> tuple[ExperimentConfig, Callable[..., TeacherLine]]:
    """A test split of 50 texts per language, and the teacher line of given predictions (run here)."""
    (root / "topic").mkdir(parents=True)
    (root / "topic/labels.json").write_text(json.dumps(LABELS))
    for language in languages:
        write_jsonl(root / f"topic/{language}/test.jsonl", [{"text": f"t{i}", "label": g} for i, g in enumerate(GOLD)])
    config = parse_experiment_config(
        {"data": "data", "tasks": ["topic"], "languages": languages, "low_resource": ["cy"], "sizes": [10, 20],
         "repeats": 3, "teacher": {"dev_per_class": 2}}, base_dir=root.parent,
    )  # fmt: skip

    def teacher(predicted: list[str | None]) -> TeacherLine:
        score = classification_scores(GOLD, predicted, LABELS)["macro_f1"]
        line = TeacherPredictions("teacher-0shot", GOLD, predicted)
        return {("topic", lang): score for lang in languages}, {("topic", lang): line for lang in languages}

    return config, teacher


def cell(language: str, n: int, repeat: int, predicted: list[str | None] | None, score: float | None = None) -> dict:
    row = {"task": "topic", "language": language, "student": "s", "source": "synthetic", "n": n, "repeat": repeat}
    if predicted is None:
        return {**row, "macro_f1": score}
    macro_f1 = classification_scores(GOLD, predicted, LABELS)["macro_f1"]
    return {**row, "macro_f1": macro_f1, "predicted": [LABELS.index(p) if p else -1 for p in predicted]}


def by_hand(predicted: list[str | None], counts: np.ndarray) -> float:
    """macro-F1 on one resampled test set, built as that set of texts."""
    drawn = [i for i, count in enumerate(counts) for _ in range(int(count))]
    return classification_scores([GOLD[i] for i in drawn], [predicted[i] for i in drawn], LABELS)["macro_f1"]


def test_a_student_identical_to_the_teacher_is_not_distinguishable(tmp_path: Path) -> None:
    config, teacher = hand_built_experiment(tmp_path / "data", ["en", "cy"])
    same = right_on(30)
    rows = [cell(lang, n, r, same) for lang in ("en", "cy") for n in (10, 20) for r in range(3)]
    stats = summarise(config, rows, *teacher(same))
    assert len(stats.points) == 5 * 2  # en, cy, low-resource, other, all; N = 10 and 20
    for point in stats.points:
        assert point.difference == pytest.approx(0, abs=1e-12) and point.difference_ci == (0.0, 0.0)
        assert point.verdict == "not distinguishable"
    assert all(c.n is None for c in stats.crossovers)
    assert stats.bootstrap["teachers_resampled"] == 2 and stats.bootstrap["cells_resampled"] == 12


def test_the_interval_is_the_bootstrap_over_test_texts_done_by_hand(tmp_path: Path) -> None:
    """With identical repeats, resampling repeats changes nothing: each draw is the student's macro-F1 minus the
    teacher's on one shared resample of the test texts; a group's draw averages its languages' draws."""
    config, teacher = hand_built_experiment(tmp_path / "data", ["en", "cy"])
    student, teacher_predicted = right_on(38), right_on(30)
    rows = [cell(lang, n, r, student) for lang in ("en", "cy") for n in (10, 20) for r in range(3)]
    stats = summarise(config, rows, *teacher(teacher_predicted))
    differences = {}
    for language in ("en", "cy"):
        draws = language_resampling(50, seed=config.seed, language=language).counts
        differences[language] = np.array([by_hand(student, c) - by_hand(teacher_predicted, c) for c in draws])
    points = {(p.language, p.n): p for p in stats.points}
    for name, expected in [("en", differences["en"]), ("cy", differences["cy"]),
                           ("all", (differences["en"] + differences["cy"]) / 2)]:  # fmt: skip
        assert points[(name, 10)].difference_ci == pytest.approx(tuple(interval(expected)), abs=1e-4)
    assert points[("en", 10)].difference == pytest.approx(by_hand(student, np.ones(50)) -
                                                          by_hand(teacher_predicted, np.ones(50)))  # fmt: skip
    assert differences["en"].std() > 0.01  # the test texts, not the repeats, make this interval


def test_a_perfect_student_beats_an_always_wrong_teacher_at_the_smallest_n(tmp_path: Path) -> None:
    config, teacher = hand_built_experiment(tmp_path / "data", ["en"])
    rows = [cell("en", n, r, list(GOLD)) for n in (10, 20) for r in range(3)]
    stats = summarise(config, rows, *teacher(right_on(0)))
    assert {(p.language, p.n): (p.difference, p.difference_ci, p.verdict) for p in stats.points} == {
        (lang, n): (1.0, (1.0, 1.0), "better") for lang in ("en", "other", "all") for n in (10, 20)
    }
    assert {(c.language, c.n, c.n_mean, c.ci_low, c.ci_high) for c in stats.crossovers} == {
        (lang, 10, 10, 10, 10) for lang in ("en", "other", "all")
    }


def test_the_crossover_asks_for_95_percent_over_repeats_and_texts(tmp_path: Path) -> None:
    """N=10: two good repeats and one bad one put the mean above the teacher, but 1 resample of repeats in 27
    takes the bad one thrice; N=20: every repeat clearly above."""
    config, teacher = hand_built_experiment(tmp_path / "data", ["en"])
    noisy = [right_on(45), right_on(45), right_on(10)]
    rows = [cell("en", 10, r, noisy[r]) for r in range(3)] + [cell("en", 20, r, right_on(48)) for r in range(3)]
    line, predictions = teacher(right_on(30))
    stats = summarise(config, rows, line, predictions)
    points = {p.n: p for p in stats.points if p.language == "en"}
    assert points[10].mean > line[("topic", "en")] and points[10].verdict == "not distinguishable"
    assert points[20].verdict == "better" and points[20].difference_ci[0] > 0.2
    found = next(c for c in stats.crossovers if c.language == "en")
    assert (found.n, found.n_mean, found.ci_low, found.ci_high) == (20, 10, 10, 20)
    # the same rows scored against a fixed teacher (a results file): the same rule, the same crossover here
    fixed = summarise(config, rows, line)
    assert [(c.n, c.n_mean) for c in fixed.crossovers if c.language == "en"] == [(20, 10)]
    assert "fixed number" in " ".join(fixed.bootstrap["notes"])


def test_rows_without_predictions_still_make_a_report_resampled_over_repeats(tmp_path: Path) -> None:
    """An older store's rows (macro_f1 only, like docs/results/paper-reproduction/cells.jsonl): repeats only."""
    config, _ = hand_built_experiment(tmp_path / "data", ["en", "cy"])
    scores = {10: [0.40, 0.42, 0.38], 20: [0.49, 0.53, 0.56]}
    rows = [cell(lang, n, r, None, s) for lang in ("en", "cy") for n, repeats in scores.items()
            for r, s in enumerate(repeats)]  # fmt: skip
    teacher = {("topic", "en"): 0.5, ("topic", "cy"): 0.45}
    stats = summarise(config, rows, teacher)
    points = {(p.language, p.n): p for p in stats.points}
    # en, N=20: one repeat in three is below 0.5, so 1 resample of repeats in 27 (more than 2.5%) is too
    assert points[("en", 20)].verdict == "not distinguishable" and points[("cy", 20)].verdict == "better"
    assert points[("en", 20)].difference_ci[0] == pytest.approx(0.49 - 0.5)
    assert stats.bootstrap["cells_resampled"] == 0 and stats.bootstrap["teachers_resampled"] == 0
    summary = ExperimentSummary(rows, stats.points, stats.crossovers, stats.teacher, "teacher scores from a file",
                                ran=0, skipped=len(rows), bootstrap=stats.bootstrap)  # fmt: skip
    out = tmp_path / "out"
    write_experiment_outputs(config, out, summary)
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "- No cell kept its test predictions (rows from an older result store" in markdown
    assert "resampled over repeats only" in markdown and "is a fixed number" in markdown
    assert "| en | s | synthetic | 0.500 | never within the grid [20, > 20] | 20 |" in markdown
    assert "| cy | s | synthetic | 0.450 | 20 [20, 20] | 20 |" in markdown
    assert "| en | 0.500 | 0.400 ± 0.020 ▼ | 0.527 ± 0.035 |" in markdown
    saved = json.loads((out / "results.json").read_text())
    assert saved["bootstrap"]["notes"] == stats.bootstrap["notes"]
    assert {(p["language"], p["n"]): p["verdict"] for p in saved["points"]}[("cy", 20)] == "better"


def test_teacher_predictions_are_those_of_the_setting_the_line_uses(tmp_path: Path) -> None:
    config, _ = hand_built_experiment(tmp_path / "data", ["en", "cy"])
    folder = tmp_path / "out/teacher/topic"
    folder.mkdir(parents=True)
    records = [
        {"language": "en", "classifier": "teacher-0shot", "macro_f1": 0.4},
        {"language": "en", "classifier": "teacher-0shot-calibrated", "macro_f1": 0.5},
        {"language": "en", "classifier": "teacher-best-on-dev", "setting": "teacher-0shot-calibrated", "macro_f1": 0.5},
        {"language": "cy", "classifier": "teacher-0shot", "macro_f1": 0.3},  # no dev: the first setting
    ]  # fmt: skip
    (folder / "teacher_results.json").write_text(json.dumps(records))
    write_jsonl(folder / "teacher_predictions.jsonl", [
        {"language": lang, "classifier": setting, "text": f"t{i}", "gold": g, "predicted": f"{setting}:{i}"}
        for lang, setting in [("en", "teacher-0shot"), ("en", "teacher-0shot-calibrated"), ("cy", "teacher-0shot")]
        for i, g in enumerate(GOLD[:3])
    ])  # fmt: skip
    found = teacher_predictions(config, tmp_path / "out")
    assert found[("topic", "en")].setting == "teacher-0shot-calibrated"
    assert found[("topic", "en")].predicted == [f"teacher-0shot-calibrated:{i}" for i in range(3)]
    assert found[("topic", "cy")].predicted == [f"teacher-0shot:{i}" for i in range(3)]
    assert found[("topic", "en")].gold == GOLD[:3]
    from_file = config.model_copy(update={"teacher": config.teacher.model_copy(update={"results": "t.json"})})
    assert teacher_predictions(from_file, tmp_path / "out") == {}  # a results file: scores only


def test_pivot_sources_plan_share_and_run(experiment_dir: Path) -> None:
    """pivot:en trains every language on English synthetic data; synthetic+pivot:en half and half; tfidf gets no
    cells with another language's text; adding pivot sources leaves the other cells' keys as they were."""
    from synthdistill.experiments.planning import skipped_combinations
    from synthdistill.experiments.runner import run_cell

    config = load_experiment_config(experiment_dir / "experiment.yaml")
    before = {c.key for c in plan_cells(config, experiment_dir / "work")}
    sources = ["synthetic", "human", "pivot:en", "synthetic+pivot:en"]
    students = [{"type": "tfidf", "analyzer": "word", "ngram_range": [1, 1]}, {"type": "embed", "name": "e"}]
    pivoted = config.model_copy(update={"sources": sources, "students": parse_experiment_config(
        {"tasks": ["t"], "data": ".", "languages": ["en"], "sizes": [6], "students": students}).students})  # fmt: skip
    cells = plan_cells(pivoted, experiment_dir / "work")
    tfidf = {(c.language, c.source) for c in cells if c.student == "tfidf"}
    assert ("cy", "pivot:en") not in tfidf and ("cy", "synthetic+pivot:en") not in tfidf
    assert ("en", "pivot:en") in tfidf and ("cy", "synthetic") in tfidf
    assert {(c.language, c.source) for c in cells if c.student == "e"} >= {("cy", "pivot:en"), ("cy", "synthetic")}
    assert before <= {c.key for c in cells}  # the tfidf cells of the first grid are done already
    cy_pivot = next(c for c in cells if (c.language, c.source, c.student) == ("cy", "pivot:en", "e"))
    assert cy_pivot.payload["files"]["pivot:en"].endswith("topic/en/synthetic.jsonl")
    assert "tfidf on pivot:en: run for en only" in skipped_combinations(pivoted)[0]

    labels = list(CUES)
    english = read_examples(experiment_dir / "data/topic/en/synthetic.jsonl", labels, language="en")
    welsh = read_examples(experiment_dir / "data/topic/cy/synthetic.jsonl", labels, language="cy")
    both = training_sample({"synthetic": welsh, "pivot:en": english}, "synthetic+pivot:en", 5, seed=3)
    for label in labels:
        mine = [e for e in both if e.label == label]
        assert [e.language for e in mine].count("cy") == 3 and [e.language for e in mine].count("en") == 2

    # a cell of tfidf on English pivot data for English itself runs like its synthetic cell
    en_pivot = next(c for c in cells if (c.language, c.source, c.student, c.n) == ("en", "pivot:en", "tfidf", 6))
    en_synthetic = next(c for c in cells if (c.language, c.source, c.student, c.n, c.repeat) ==
                        ("en", "synthetic", "tfidf", 6, en_pivot.repeat))  # fmt: skip
    assert run_cell(en_pivot.payload)["macro_f1"] == run_cell(en_synthetic.payload)["macro_f1"]


def test_unknown_sources_are_config_errors() -> None:
    for bad, message in (("pivot:xx", "unknown language code 'xx'"), ("synthetics", "unknown source 'synthetics'"),
                         ("synthetic+synthetic", "names a part twice")):  # fmt: skip
        raw = {"tasks": ["t"], "data": ".", "languages": ["en"], "sizes": [6], "sources": [bad]}
        with pytest.raises(ConfigError, match="sources"):
            parse_experiment_config(raw, source="x.yaml")
        try:
            parse_experiment_config(raw, source="x.yaml")
        except ConfigError as err:
            assert message in str(err)
