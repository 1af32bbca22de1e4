"""Same config, seed and embedded teacher on the same machine: two fresh runs write the same bytes.

llama.cpp's answers depend on which requests share a batch (its parallel slots), and which do is a matter of
timing; the embedded teacher therefore decodes one request at a time by default (bench/embedded_determinism.py
measures what that costs).
"""

import pytest
import yaml

from synthdistill import load_config
from synthdistill.pipeline import classify, generate
from tests.conftest import tiny_config_dict

pytestmark = pytest.mark.slow

OUTPUTS = ("synthetic.jsonl", "dropped.jsonl", "dataset_card.md", "teacher_predictions.jsonl", "teacher_results.json")


def test_two_fresh_runs_on_the_embedded_teacher_write_identical_bytes(tiny_project):
    raw = tiny_config_dict(max_concurrency=4)  # requests in flight together: what used to make runs differ
    raw["generation"] = {"samples_per_label": 4, "demos_per_prompt": 2, "max_tokens": 40, "temperature": 0.9}
    (tiny_project / "config.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tiny_project / "config.yaml")
    written = []
    for run in ("first", "second"):
        out = tiny_project / run  # a fresh folder: a fresh request cache and a fresh llama.cpp server
        generate(config, out, progress=False)
        classify(config, out, progress=False)
        written.append({name: (out / name).read_bytes() for name in OUTPUTS})
    first, second = written
    assert first["synthetic.jsonl"].count(b"\n") >= 4  # something was generated at all
    assert b'"probabilities": {"' in first["teacher_predictions.jsonl"]  # and scored
    for name in OUTPUTS:
        assert first[name] == second[name], f"{name} differs between two fresh runs"
