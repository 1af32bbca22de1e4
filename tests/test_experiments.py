"""The experiment runner on a tiny paper-layout grid: numbers, resume, config changes, executors, statistics."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthdistill.errors import ConfigError, DataError
from synthdistill.evaluation.intervals import mean_interval
from synthdistill.experiments.config import load_experiment_config, parse_experiment_config
from synthdistill.experiments.curves import crossover, group_languages
from synthdistill.experiments.executors import InlineExecutor, LocalExecutor
from synthdistill.experiments.runner import plan_cells, run_experiment, training_sample
from synthdistill.experiments.store import ResultStore
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
    from synthdistill.data import read_examples

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


def test_local_pool_gives_the_inline_numbers(experiment_dir: Path) -> None:
    config = load_experiment_config(experiment_dir / "experiment.yaml")
    config = config.model_copy(update={"languages": ["cy"], "sizes": [6, 45], "repeats": 2})
    inline = run_experiment(config, experiment_dir / "inline", executor=InlineExecutor(), progress=False)
    pooled = run_experiment(config, experiment_dir / "pool", executor=LocalExecutor(2), progress=False)
    assert pooled.ran == 8
    assert pooled.rows == [dict(r, fit_seconds=p["fit_seconds"], predict_seconds=p["predict_seconds"])
                           for r, p in zip(inline.rows, pooled.rows, strict=True)]  # fmt: skip


def test_crash_in_the_middle_keeps_finished_cells(experiment_dir: Path) -> None:
    """A run killed after some cells: the store has them, the re-run does only the rest."""
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
    resumed = run_experiment(config, experiment_dir / "out", executor=InlineExecutor(), progress=False)
    assert (resumed.ran, resumed.skipped) == (29, 7)
    fresh = run_experiment(config, experiment_dir / "fresh", executor=InlineExecutor(), progress=False)
    strip = [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in resumed.rows]
    assert strip == [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in fresh.rows]


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
    found = crossover(("t", "en", "s", "synthetic"), by_n, teacher=0.5)
    assert found.n == 20 and found.ci_low == 20 and found.ci_high == 50
    never = crossover(("t", "en", "s", "synthetic"), by_n, teacher=0.9)
    assert never.n is None and never.ci_low is None
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
    finally:
        ray.shutdown()
    assert on_ray.ran == 8
    strip = [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in on_ray.rows]
    assert strip == [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in inline.rows]
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
    assert "topic low-resource: tfidf on synthetic beats the teacher (0.300) at N = 30" in done.stdout
    saved = json.loads((tmp_path / "out/results.json").read_text())
    assert {(t["language"], t["macro_f1"]) for t in saved["teacher"]} >= {("en", 0.6), ("cy", 0.3)}


@pytest.mark.slow
def test_teacher_line_from_the_embedded_teacher_chooses_on_a_drawn_dev_split(tmp_path: Path) -> None:
    from synthdistill.experiments.reproduction import paper_experiment

    data = write_paper_layout(tmp_path / "paper", ["en"], test_size=3)
    config = paper_experiment(data, quick=True, languages=["en"], students=["tfidf"], repeats=1).model_copy(
        update={"per_class_sizes": [2]}
    )
    summary = run_experiment(config, tmp_path / "out", executor=InlineExecutor(), progress=False)
    assert "embedded backend" in summary.teacher_origin and "dev split of 5 human examples" in summary.teacher_origin
    from synthdistill.data import read_examples

    dev = read_examples(tmp_path / "out/teacher/topic/dev/en.jsonl", list(CUES))
    pool = {e.text for e in read_examples(data / "topic/en/train.jsonl", list(CUES))}
    assert len(dev) == 15 and all(e.text in pool for e in dev)
    chosen = json.loads((tmp_path / "out/teacher/topic/teacher_results.json").read_text())
    best = next(r for r in chosen if r["classifier"] == "teacher-best-on-dev")
    assert best["setting"] in {"teacher-0shot", "teacher-0shot-calibrated"}
    assert summary.teacher[("topic", "en")] == best["macro_f1"]


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
