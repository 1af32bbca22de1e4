"""Generation sharded per language on a local Ray instance sends the same requests and writes the same
dataset as a single-process run, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from synthdistill.config import load_config
from synthdistill.experiments.executors import RayExecutor
from synthdistill.experiments.sharding import generate_sharded
from synthdistill.pipeline import generate
from tests.conftest import tiny_config_dict
from tests.fault_server import fault_server


def test_ray_shards_write_the_single_process_dataset(tiny_project: Path) -> None:
    import ray  # the test command installs the ray extra

    for split in ("seed", "test"):  # a second language with the same seed data
        (tiny_project / "data/de").mkdir(exist_ok=True)
        shutil.copy(tiny_project / f"data/en/{split}.jsonl", tiny_project / f"data/de/{split}.jsonl")
    with fault_server([("echo",)] * 100) as server:
        raw = tiny_config_dict(backend="openai", base_url=server.url, model="m", mode="completion")
        raw["task"]["languages"] = ["en", "de"]
        raw["filters"] = {"min_chars": 10, "language_id": False, "near_duplicate_threshold": None}
        (tiny_project / "sharded.yaml").write_text(yaml.safe_dump(raw))
        config = load_config(tiny_project / "sharded.yaml")
        single, single_dropped = generate(config, tiny_project / "single", progress=False)
        single_requests = sorted(json.dumps(body, sort_keys=True) for body in server.received)
        server.received.clear()
        try:
            sharded, dropped, stats = generate_sharded(config, tiny_project / "ray", RayExecutor(num_cpus=2))
        finally:
            ray.shutdown()
        assert sorted(json.dumps(body, sort_keys=True) for body in server.received) == single_requests
    assert stats.sent == len(single_requests) == 2 * 2 * 3  # languages x labels x samples per label
    assert [s.to_dict() for s in sharded] == [s.to_dict() for s in single] and len(dropped) == len(single_dropped)
    assert {s.language for s in sharded} == {"en", "de"}
    for name in ("synthetic.jsonl", "dropped.jsonl"):
        assert (tiny_project / "ray" / name).read_text() == (tiny_project / "single" / name).read_text()
    card = (tiny_project / "ray/dataset_card.md").read_text()
    assert "Status: **complete**" in card and (tiny_project / "ray/shards/de/cache.sqlite").is_file()
