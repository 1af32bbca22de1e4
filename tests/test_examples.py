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
