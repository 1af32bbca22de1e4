"""Label summaries: the teacher describes each label from seed examples, and the description conditions
generation (Anikina et al. 2025). Requests go through the cache; the result is saved beside the dataset."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from synthdistill.config import TaskSpec
from synthdistill.data import Example, sample_seed
from synthdistill.prompts import render, task_variables
from synthdistill.teachers.protocol import CompletionRequest, PromptMode, prompt_request
from synthdistill.teachers.teacher import Teacher

SUMMARY_EXAMPLES = 10  # the literature summarises about ten examples per label
_COMPLETION_LEAD = "They are about"


def summarise_labels(
    task: TaskSpec, mode: PromptMode, teacher: Teacher, seeds: Mapping[str, Sequence[Example]], *, seed: int
) -> dict[str, dict[str, str]]:
    """language -> label -> summary; a label without seed examples, or whose summary comes back empty,
    keeps its own description (and has no entry here). `seed`: the generation seed."""
    cells: list[tuple[str, str]] = []
    requests: list[CompletionRequest] = []
    for language in task.languages:
        for label in task.label_names:
            pool = [e.text for e in seeds.get(language, ()) if e.label == label]
            if not pool:
                continue
            rng = random.Random(sample_seed(seed, "summary", language, label))
            demos = rng.sample(pool, min(SUMMARY_EXAMPLES, len(pool)))
            prompt = render(
                f"summarise.{mode}.v1",
                **task_variables(task, language),
                label=label,
                demos=demos,
            ).text
            requests.append(prompt_request(prompt, mode, stop=("\n",), max_tokens=60, temperature=0.0))
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
