"""Translation: the teacher turns pivot-language samples into a target language, one request per sample, greedy
(one right answer is wanted, not variety). A translation keeps its label and the provenance of the sample it
came from, and then passes the same filters as a sample written in the language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from synthdistill.config import TaskSpec
from synthdistill.data import DroppedSample, Example, sample_seed
from synthdistill.generation.parsing import parse_generated
from synthdistill.languages import resolve_language
from synthdistill.prompts import RenderedPrompt, render
from synthdistill.sources import TRANSLATED
from synthdistill.teachers.protocol import CompletionRequest, PromptMode, prompt_request
from synthdistill.teachers.teacher import Teacher

# What a translation carries of its source sample: enough to find it in synthetic.jsonl and to re-ask for it.
SOURCE_FIELDS = ("prompt_hash", "sample_index", "seed", "round")


def translation_template(mode: PromptMode, template: str | None = None) -> str:
    return template or f"translate.{mode}.v1"


def translation_requests(
    task: TaskSpec,
    mode: PromptMode,
    samples: Sequence[Example],
    targets: Sequence[str],
    max_tokens: Mapping[str, int],
    *,
    template: str | None = None,
    seed: int = 0,
) -> list[tuple[Example, str, RenderedPrompt, CompletionRequest]]:
    """(source sample, target language, prompt, request) for each sample into each target, in a fixed order."""
    name = translation_template(mode, template)
    planned = []
    for target in targets:
        for sample in samples:
            prompt = render(
                name,
                source_language=resolve_language(sample.language or "").name,
                target_language=resolve_language(target).name,
                domain=task.domain,
                text_kind=task.text_kind,
                text=sample.text,
            )
            request = prompt_request(
                prompt.text,
                mode,
                stop=("\n",),
                max_tokens=max_tokens[target],
                temperature=0.0,
                seed=sample_seed(seed, "translate", target, prompt.digest),
            )
            planned.append((sample, target, prompt, request))
    return planned


def translate_samples(
    task: TaskSpec,
    mode: PromptMode,
    teacher: Teacher,
    samples: Sequence[Example],
    targets: Sequence[str],
    max_tokens: Mapping[str, int],
    *,
    template: str | None = None,
    seed: int = 0,
) -> tuple[list[Example], list[DroppedSample]]:
    """Each sample translated into each target language; answers that are no translation are dropped with the
    reason (empty, truncated), unfiltered otherwise: the caller filters them like any sample."""
    planned = translation_requests(task, mode, samples, targets, max_tokens, template=template, seed=seed)
    answers = teacher.complete_within_budget([request for *_, request in planned], desc="translating")
    translated: list[Example] = []
    dropped: list[DroppedSample] = []
    for (source, target, prompt, request), answer in zip(planned, answers, strict=True):
        if answer is None:  # the budget was spent: the card reports requests not sent
            continue
        text, reason, line = parse_generated(answer.text, answer.finish_reason, mode, 1)[0]
        meta = {
            "teacher": teacher.model,
            "template": prompt.template,
            "prompt_hash": prompt.digest,
            "seed": request.seed,
            "origin": TRANSLATED,
            "translated_from": {
                "language": source.language,
                "text": source.text,
                **{key: source.meta[key] for key in SOURCE_FIELDS if key in source.meta},
            },
        }
        if answer.served_model is not None and answer.served_model != teacher.model:
            meta["served_model"] = answer.served_model
        if answer.fingerprint is not None:
            meta["fingerprint"] = answer.fingerprint
        if text is None:
            dropped.append(DroppedSample(line, target, source.label, f"translation:{reason}", meta))
        else:
            translated.append(Example(text=text, label=source.label, language=target, meta=meta))
    return translated, dropped
