"""Generation rounds: per language and label, the teacher writes samples from the label's description (or its
teacher-written summary), human demonstrations, an attribute to write about and words to avoid (taboo words,
chosen from the samples of earlier rounds)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from synthdistill.config import GenerationSpec, TaskSpec
from synthdistill.data import DroppedSample, Example
from synthdistill.generation.parsing import parse_generated
from synthdistill.generation.planning import GenerationJob, Summaries, plan_generation
from synthdistill.generation.token_budgets import TokenBudget, token_budgets
from synthdistill.teachers.protocol import PromptMode
from synthdistill.teachers.teacher import Teacher

_WORD = re.compile(r"\w{4,}", re.UNICODE)


def taboo_words(samples: Sequence[Example], k: int) -> dict[tuple[str, str], list[str]]:
    """Per (language, label): the k words most typical of that label's samples so far.

    A word scores by how many of the label's samples use it, minus how many of an average other label's
    do, so function words (frequent everywhere) are not forbidden.
    """
    document_frequency: dict[tuple[str, str], Counter[str]] = {}
    for sample in samples:
        words = {w.casefold() for w in _WORD.findall(sample.text)}
        document_frequency.setdefault((sample.language or "", sample.label), Counter()).update(words)
    result: dict[tuple[str, str], list[str]] = {}
    for (language, label), counts in document_frequency.items():
        others = [c for (lang, lab), c in document_frequency.items() if lang == language and lab != label]

        def score(word: str, counts: Counter[str] = counts, others: list[Counter[str]] = others) -> float:
            return counts[word] - (sum(o[word] for o in others) / len(others) if others else 0.0)

        ranked = sorted((w for w in counts if counts[w] >= 2 and score(w) > 0), key=lambda w: (-score(w), w))
        result[(language, label)] = ranked[:k]
    return result


def _collect(
    jobs: Sequence[GenerationJob], answers: Sequence, teacher: Teacher, mode: str
) -> tuple[list[Example], list[DroppedSample]]:
    samples: list[Example] = []
    dropped: list[DroppedSample] = []
    for job, answer in zip(jobs, answers, strict=True):
        parsed = parse_generated(answer.text, answer.finish_reason, mode, job.n_samples)
        for position, (text, reason, line) in enumerate(parsed):
            meta = {
                "teacher": teacher.model,
                "template": job.prompt.template,
                "prompt_hash": job.prompt.digest,
                "sample_index": job.call_index * job.n_samples + position,
                "n_demos": job.n_demos,
                "round": job.round,
                "seed": job.request.seed,
            }
            if answer.served_model is not None and answer.served_model != teacher.model:
                meta["served_model"] = answer.served_model
            if answer.fingerprint is not None:
                meta["fingerprint"] = answer.fingerprint
            if job.attribute is not None:
                meta["attribute"] = job.attribute
            if job.taboo:
                meta["n_taboo"] = len(job.taboo)
            if text is None:
                dropped.append(DroppedSample(line, job.language, job.label, reason, meta))
            else:
                samples.append(Example(text=text, label=job.label, language=job.language, meta=meta))
    return samples, dropped


def generate_samples(
    task: TaskSpec,
    generation: GenerationSpec,
    mode: PromptMode,
    teacher: Teacher,
    seeds: Mapping[str, Sequence[Example]],
    summaries: Summaries | None = None,
    budgets: Mapping[str, TokenBudget] | None = None,
) -> tuple[list[Example], list[DroppedSample]]:
    """Ask the teacher for every planned sample, round by round; parse answers into samples and drops.

    `budgets`: each language's max_tokens per sample (token_budgets); measured here when not given."""
    if budgets is None:
        budgets = token_budgets(generation, task.languages, seeds, teacher)
    max_tokens = {language: budget.tokens for language, budget in budgets.items()}
    samples: list[Example] = []
    dropped: list[DroppedSample] = []
    k = generation.taboo_words
    for round_index in range(generation.effective_rounds):
        taboo = taboo_words(samples, k) if k and round_index else None
        jobs = plan_generation(
            task, generation, mode, seeds, summaries=summaries, taboo=taboo, round_index=round_index,
            max_tokens=max_tokens,
        )  # fmt: skip
        if not jobs:
            continue
        desc = "generating" if generation.effective_rounds == 1 else f"generating, round {round_index + 1}"
        answers = teacher.complete_within_budget([job.request for job in jobs], desc=desc)
        answered = [(job, answer) for job, answer in zip(jobs, answers, strict=True) if answer is not None]
        new_samples, new_dropped = _collect(
            [job for job, _ in answered], [answer for _, answer in answered], teacher, mode
        )
        samples += new_samples
        dropped += new_dropped
    return samples, dropped
