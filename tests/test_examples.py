"""The shipped example configs validate and their data loads (no teacher needed)."""

from pathlib import Path

import pytest

from synthdistill import load_config
from synthdistill.pipeline import load_datasets

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_config_and_data(path):
    config = load_config(path)
    datasets = load_datasets(config)
    assert set(datasets) == set(config.task.languages)
    for data in datasets.values():
        assert len(data.test) == 204
        assert {e.label for e in data.seed} == set(config.task.label_names)
        assert all(sum(e.label == label for e in data.seed) == 10 for label in config.task.label_names)


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


# its heat maps' long row labels once squeezed the axes to nothing (matplotlib only warned)
@pytest.mark.filterwarnings("error:constrained_layout not applied:UserWarning")
def test_experiment_example_runs_on_a_run_folder(tmp_path):
    """The learning-curve example reads a run's synthetic.jsonl (all languages in one file) and its
    teacher_results.json; here both are stand-ins written from the shipped data."""
    import json
    import shutil

    import yaml

    from synthdistill.data import read_examples, write_examples
    from synthdistill.experiments.config import parse_experiment_config
    from synthdistill.experiments.executors import InlineExecutor
    from synthdistill.experiments.runner import run_experiment

    root = Path(__file__).parent.parent / "examples"
    shutil.copytree(root / "data", tmp_path / "examples/data")
    (tmp_path / "examples/experiments").mkdir()
    raw = yaml.safe_load((root / "experiments/sib200-after-run.yaml").read_text())
    raw.update(per_class_sizes=[2, 5], repeats=2, students=[{"type": "tfidf"}], sources=["synthetic", "mixed"])
    labels = raw["tasks"][0]["labels"]
    synthetic = [e for lang in raw["languages"]
                 for e in read_examples(root / f"data/sib200/{lang}/dev.jsonl", labels, language=lang)]  # fmt: skip
    write_examples(tmp_path / "runs/sib200/synthetic.jsonl", synthetic)
    teacher = [{"task": "sib200-topic", "language": lang, "classifier": "teacher-best-on-dev", "macro_f1": 0.5}
               for lang in raw["languages"]]  # fmt: skip
    (tmp_path / "runs/sib200/teacher_results.json").write_text(json.dumps(teacher))
    config = parse_experiment_config(raw, base_dir=tmp_path / "examples/experiments")
    summary = run_experiment(config, tmp_path / "curves", executor=InlineExecutor(), progress=False)
    assert summary.ran == len(raw["languages"]) * 2 * 2 * 2
    assert {r["language"] for r in summary.rows} == set(raw["languages"])
    assert {r["n_train"] for r in summary.rows if r["n"] == 35} == {35}
    assert summary.teacher[("sib200-topic", "swh_Latn")] == 0.5
