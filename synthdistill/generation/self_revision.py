"""Self-revision: the teacher checks each sample (fits the label, fluent and complete, in the target
language); rejected samples are dropped and kept aside with the reason (Anikina et al. 2025)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from synthdistill.config import TaskSpec
from synthdistill.data import DroppedSample, Example, sample_seed
from synthdistill.prompts import render, task_variables
from synthdistill.teachers.protocol import PromptMode, prompt_request
from synthdistill.teachers.teacher import Teacher

_EXAMPLES_PER_ANSWER = 2  # base models get a few-shot prompt: two passing seeds, two of other labels


def _few_shot(label: str, seeds: Sequence[Example], seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    same = [e.text for e in seeds if e.label == label]
    other = [e.text for e in seeds if e.label != label]
    yes = [{"text": t, "answer": "yes"} for t in rng.sample(same, min(_EXAMPLES_PER_ANSWER, len(same)))]
    no = [{"text": t, "answer": "no"} for t in rng.sample(other, min(_EXAMPLES_PER_ANSWER, len(other)))]
    mixed = [item for pair in zip(yes, no, strict=False) for item in pair]
    return mixed + yes[len(mixed) // 2 :] + no[len(mixed) // 2 :]


def _verdict_from_answer(answer: str) -> bool | None:
    word = answer.strip().split()[0].strip(".,!\"'").casefold() if answer.strip() else ""
    return {"yes": True, "no": False}.get(word)


def revise_samples(
    task: TaskSpec,
    mode: PromptMode,
    teacher: Teacher,
    samples: Sequence[Example],
    seeds: Mapping[str, Sequence[Example]],
    *,
    seed: int,
) -> tuple[list[Example], list[DroppedSample]]:
    """Keep the samples the teacher accepts; `seed`: the generation seed (it picks the worked answers)."""
    descriptions = {label.name: label.description for label in task.labels}
    prompts: list[str] = []
    for sample in samples:
        language = sample.language or task.languages[0]
        examples = _few_shot(
            sample.label, seeds.get(language, ()), sample_seed(seed, "revise", language)
        ) if mode == "completion" else []  # fmt: skip
        prompts.append(
            render(
                f"revise.{mode}.v1",
                **task_variables(task, language),
                label=sample.label,
                description=descriptions[sample.label],
                examples=examples,
                text=sample.text,
            ).text
        )
    verdicts: list[bool | None]
    if mode == "completion":
        scores = teacher.score_many(prompts, [" yes", " no"], desc="self-revision")
        verdicts = [None if yes is None and no is None else (no is None or (yes is not None and yes > no))
                    for yes, no in scores]  # fmt: skip
    else:
        requests = [prompt_request(p, mode, max_tokens=3, temperature=0.0) for p in prompts]
        verdicts = [_verdict_from_answer(a.text) for a in teacher.complete_many(requests, desc="self-revision")]
    kept: list[Example] = []
    dropped: list[DroppedSample] = []
    for sample, verdict in zip(samples, verdicts, strict=True):
        if verdict:
            kept.append(sample)
        else:
            reason = "revision:rejected" if verdict is False else "revision:no_answer"
            dropped.append(DroppedSample(sample.text, sample.language or "", sample.label, reason, dict(sample.meta)))
    return kept, dropped
