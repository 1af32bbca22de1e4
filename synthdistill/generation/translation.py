"""Translation: the teacher turns pivot-language samples into a target language, one request per sample or a
numbered list of several, greedy (one right answer is wanted, not variety). A translation keeps its label and
the provenance of the sample it came from, and then passes the same filters as a sample written in the
language."""

from __future__ import annotations

import re
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
    per_request: int = 1,
    template: str | None = None,
    seed: int = 0,
) -> list[tuple[list[Example], str, RenderedPrompt, CompletionRequest]]:
    """(source samples, target language, prompt, request): the samples in groups of `per_request` (of one source
    language each) into each target, in a fixed order."""
    name = translation_template(mode, template)
    planned = []
    for target in targets:
        for group in _groups(samples, per_request):
            prompt = render(
                name,
                source_language=resolve_language(group[0].language or "").name,
                target_language=resolve_language(target).name,
                domain=task.domain,
                text_kind=task.text_kind,
                texts=[sample.text for sample in group],
            )
            request = prompt_request(
                prompt.text,
                mode,
                stop=("\n",) if len(group) == 1 else ("\n\n",),
                max_tokens=max_tokens[target] * len(group),
                temperature=0.0,
                seed=sample_seed(seed, "translate", target, prompt.digest),
            )
            planned.append((group, target, prompt, request))
    return planned


def _groups(samples: Sequence[Example], size: int) -> list[list[Example]]:
    by_language: dict[str | None, list[Example]] = {}
    for sample in samples:
        by_language.setdefault(sample.language, []).append(sample)
    return [rows[i : i + size] for rows in by_language.values() for i in range(0, len(rows), size)]


_NUMBERED = re.compile(r"^\s*(\d+)\s*[.):]\s*(.*)$")


def numbered_answers(text: str, n: int, mode: PromptMode) -> dict[int, str]:
    """Line k of a numbered answer by its number (1 to n); a completion continues the prompt's "1.", so its
    first line carries no number."""
    found: dict[int, str] = {}
    for position, line in enumerate(text.strip("\n").splitlines()):
        match = _NUMBERED.match(line)
        if match:
            number, line = int(match.group(1)), match.group(2)
        elif position == 0 and mode == "completion":
            number = 1
        else:
            continue
        if 1 <= number <= n and number not in found:
            found[number] = line.strip()
    return found


def translate_samples(
    mode: PromptMode, teacher: Teacher, planned: Sequence[tuple[list[Example], str, RenderedPrompt, CompletionRequest]]
) -> tuple[list[Example], list[DroppedSample]]:
    """The `planned` translations (translation_requests) asked of the teacher; answers that are no translation are
    dropped with the reason (empty, truncated, missing from a numbered answer), unfiltered otherwise: the caller
    filters them like any sample."""
    answers = teacher.complete_within_budget([request for *_, request in planned], desc="translating")
    translated: list[Example] = []
    dropped: list[DroppedSample] = []
    for (group, target, prompt, request), answer in zip(planned, answers, strict=True):
        if answer is None:  # the budget was spent: the card reports requests not sent
            continue
        if len(group) == 1:
            parsed = [parse_generated(answer.text, answer.finish_reason, mode, 1)[0]]
        else:
            lines = numbered_answers(answer.text, len(group), mode)
            last = max(lines, default=0)
            parsed = [
                parse_generated(lines[k], "length" if k == last and answer.finish_reason == "length" else "stop",
                                mode, 1)[0] if k in lines else (None, "missing", answer.text)
                for k in range(1, len(group) + 1)
            ]  # fmt: skip
        for position, (source, (text, reason, line)) in enumerate(zip(group, parsed, strict=True)):
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
            if len(group) > 1:
                meta["position"] = position
            if answer.served_model is not None and answer.served_model != teacher.model:
                meta["served_model"] = answer.served_model
            if answer.fingerprint is not None:
                meta["fingerprint"] = answer.fingerprint
            if text is None:
                dropped.append(DroppedSample(line, target, source.label, f"translation:{reason}", meta))
            else:
                translated.append(Example(text=text, label=source.label, language=target, meta=meta))
    return translated, dropped
