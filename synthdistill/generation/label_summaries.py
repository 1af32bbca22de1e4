"""Label summaries: the teacher describes each label from seed examples, and the description conditions
generation (Anikina et al. 2025). Requests go through the cache; the result is saved beside the dataset."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from synthdistill.config import Config
from synthdistill.data import Example, sample_seed
from synthdistill.languages import resolve_language
from synthdistill.prompts import render
from synthdistill.teachers.protocol import CompletionRequest
from synthdistill.teachers.teacher import Teacher

SUMMARY_EXAMPLES = 10  # the literature summarises about ten examples per label
_COMPLETION_LEAD = "They are about"


def summarise_labels(
    config: Config, teacher: Teacher, seeds: Mapping[str, Sequence[Example]]
) -> dict[str, dict[str, str]]:
    """language -> label -> summary; a label without seed examples, or whose summary comes back empty,
    keeps its own description (and has no entry here)."""
    task, mode = config.task, config.teacher.prompt_mode
    cells: list[tuple[str, str]] = []
    requests: list[CompletionRequest] = []
    for language in task.languages:
        for label in task.label_names:
            pool = [e.text for e in seeds.get(language, ()) if e.label == label]
            if not pool:
                continue
            rng = random.Random(sample_seed(config.generation.seed, "summary", language, label))
            demos = rng.sample(pool, min(SUMMARY_EXAMPLES, len(pool)))
            prompt = render(
                f"summarise.{mode}.v1",
                language=resolve_language(language).name,
                domain=task.domain,
                text_kind=task.text_kind,
                label_kind=task.label_kind,
                label=label,
                demos=demos,
            ).text
            common = {"max_tokens": 60, "temperature": 0.0}
            if mode == "completion":
                requests.append(CompletionRequest(prompt=prompt, stop=("\n",), **common))
            else:
                requests.append(CompletionRequest(messages=(("user", prompt),), **common))
            cells.append((language, label))
    answers = teacher.complete_many(requests, desc="label summaries") if requests else []
    summaries: dict[str, dict[str, str]] = {}
    for (language, label), answer in zip(cells, answers, strict=True):
        lines = [line.strip() for line in answer.text.strip().splitlines() if line.strip()]
        if not lines or answer.finish_reason == "length":
            continue
        text = f"{_COMPLETION_LEAD} {lines[0]}" if mode == "completion" else lines[0]
        summaries.setdefault(language, {})[label] = text
    return summaries
