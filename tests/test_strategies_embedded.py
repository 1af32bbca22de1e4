"""Every generation strategy and filter on the real embedded teacher, in one small run."""

import json

import pytest
import yaml

from synthdistill import load_config
from synthdistill.generation.language_id import check_language
from synthdistill.languages import resolve_language
from synthdistill.pipeline import generate
from tests.conftest import tiny_config_dict, write_jsonl

pytestmark = pytest.mark.slow

KNOWN_REASONS = (
    "too_short", "too_long", "copied_seed", "duplicate", "near_duplicate", "ambiguous", "empty",
    "truncated", "several_lines", "wrong_language:", "wrong_script:", "revision:", "teacher_check:",
)  # fmt: skip


def test_all_strategies_and_filters_on_the_embedded_teacher(tiny_project):
    raw = tiny_config_dict()
    raw["task"]["languages"] = ["en", "sw"]
    raw["generation"] = {
        "samples_per_label": 4, "samples_per_call": 2, "demos_per_prompt": 2, "demo_language": "en",
        "label_summaries": True, "self_revision": True, "taboo_words": 3, "rounds": 2,
        "attributes": {"*": ["a local event", "an international event"]},
        "temperature": 0.8, "repetition_penalty": 1.2, "max_tokens": 40,
    }  # fmt: skip
    raw["filters"] = {"min_chars": 10, "teacher_check": True}
    for split in ("seed", "test"):
        write_jsonl(tiny_project / f"data/sw/{split}.jsonl", [json.loads(line) for line in
                    (tiny_project / f"data/en/{split}.jsonl").read_text().splitlines()])  # fmt: skip
    (tiny_project / "all.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tiny_project / "all.yaml")
    out = tiny_project / "out"

    samples, dropped = generate(config, out, progress=False)

    summaries = json.loads((out / "label_summaries.json").read_text())
    assert set(summaries) == {"en", "sw"} and all(s.startswith("They are about") for s in summaries["en"].values())
    for sample in samples:
        assert check_language(sample.text, resolve_language(sample.language)).ok
        assert sample.meta["template"] == "generate.completion.v2" and sample.meta["round"] in (0, 1)
        assert sample.meta["attribute"] in ("a local event", "an international event")
    assert all(d.reason.startswith(KNOWN_REASONS) for d in dropped)
    # every sample slot of every request is accounted for, once: kept or dropped
    slots = [(s.language, s.label, s.meta["sample_index"]) for s in samples]
    slots += [(d.language, d.label, d.meta["sample_index"]) for d in dropped]
    assert len(slots) == len(set(slots))
    assert all(0 <= index < 4 for _, _, index in slots)
    card = (out / "dataset_card.md").read_text()
    for heading in ("## Samples kept", "## Dropped", "## Diversity", "## Teacher usage", "Label summaries"):
        assert heading in card
    written = [json.loads(line) for line in (out / "synthetic.jsonl").read_text().splitlines()]
    assert len(written) == len(samples)
