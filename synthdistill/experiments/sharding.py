"""Generation spread over a cluster: one shard per language, each a full `generate` (prompts, teacher, filters)
in its own folder with its own request cache, run by an executor (Ray); the driver merges the shards into the
usual outputs. Prompts are planned per language from the config alone (and that language's seed texts, which
size its max_tokens), so the shards send exactly the requests a single-process run sends.

On a multi-machine cluster, OUT must be on storage every node sees for shards to resume from their caches;
budget caps (max_requests, max_tokens) apply to each shard.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from synthdistill.config import Config, parse_config
from synthdistill.data import DroppedSample, Example
from synthdistill.errors import ConfigError
from synthdistill.experiments.executors import Executor
from synthdistill.generation.token_budgets import TokenBudget
from synthdistill.teachers import TeacherStats

SHARDS_DIR = "shards"


def generate_shard(payload: dict[str, Any]) -> dict[str, Any]:
    """One language's generation (runs on a worker); returns its rows and the teacher's counts."""
    from synthdistill.pipeline import generate_data, opened_teacher, output_folder

    config = parse_config(payload["config"], source=f"shard {payload['language']}")
    out = output_folder(payload["out"])
    with opened_teacher(config, out, progress=False) as teacher:
        generated = generate_data(config, out, teacher)
        stats, model = teacher.stats.to_dict(), teacher.model
    summaries_file = out / "label_summaries.json"
    return {
        "samples": [s.to_dict() for s in generated.samples],
        "dropped": [d.to_dict() for d in generated.dropped],
        "budgets": [asdict(budget) for budget in generated.budgets.values()],
        "stats": stats,
        "model": model,
        "summaries": json.loads(summaries_file.read_text(encoding="utf-8")) if summaries_file.is_file() else None,
    }


def _example(row: dict[str, Any]) -> Example:
    row = dict(row)
    return Example(row.pop("text"), row.pop("label"), row.pop("language", None), meta=row)


def _dropped(row: dict[str, Any]) -> DroppedSample:
    row = dict(row)
    return DroppedSample(row.pop("text"), row.pop("language"), row.pop("label"), row.pop("reason"), meta=row)


def generate_sharded(
    config: Config, out: str | Path, executor: Executor
) -> tuple[list[Example], list[DroppedSample], TeacherStats]:
    """Write the same files as `pipeline.generate`, from one shard per language run by `executor`."""
    from synthdistill.pipeline import load_datasets, output_folder, write_generation_outputs

    kinds = {language: config.source.kind(language) for language in config.task.languages}
    if set(kinds.values()) != {"in_language"}:
        shown = ", ".join(f"{language}: {kind}" for language, kind in kinds.items() if kind != "in_language")
        raise ConfigError(
            f"source ({shown}): generation sharded per language writes in-language samples only; run `generate` "
            "without --executor ray for pivot, translated, mixed or auto sources"
        )
    out = output_folder(out)
    load_datasets(config)  # bad data fails here, before any shard starts
    resolved = yaml.safe_load(config.to_yaml())  # data paths made absolute: shards run anywhere
    languages = config.task.languages
    payloads = [
        {
            "language": language,
            "out": str((out / SHARDS_DIR / language).resolve()),
            "config": {**resolved, "task": {**resolved["task"], "languages": [language]}},
        }
        for language in languages
    ]
    results = dict(executor.map_unordered(generate_shard, payloads))
    samples, dropped, summaries, budgets, stats = [], [], {}, {}, TeacherStats()
    for index in range(len(languages)):
        result = results[index]
        samples += [_example(row) for row in result["samples"]]
        dropped += [_dropped(row) for row in result["dropped"]]
        budgets.update({row["language"]: TokenBudget(**row) for row in result["budgets"]})
        summaries.update(result["summaries"] or {})
        for name, value in result["stats"].items():
            setattr(stats, name, getattr(stats, name) + value)
    model = results[0]["model"]
    write_generation_outputs(config, out, samples, dropped, stats, model, summaries or None, budgets)
    return samples, dropped, stats
