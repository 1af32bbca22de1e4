"""The teacher as a classifier, zero- and k-shot: the baseline that students must beat.

Completion-mode teachers score every label as the continuation of the prompt; chat-mode teachers answer
greedily and the answer must name a label exactly. Either way an answer that maps to no label stays None
and counts as wrong; it never becomes a class of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from synthdistill.config import Config
from synthdistill.data import Example
from synthdistill.languages import resolve_language
from synthdistill.prompts import render
from synthdistill.teachers.protocol import CompletionRequest
from synthdistill.teachers.teacher import Teacher

_ANSWER_PUNCTUATION = " \t\n\"'`.,;:!*"


@dataclass
class TeacherPrediction:
    label: str | None  # None: the teacher's answer names no label
    probabilities: dict[str, float] = field(default_factory=dict)
    answer: str | None = None  # the raw answer, in chat mode


def parse_label_answer(answer: str, labels: Sequence[str]) -> str | None:
    """Strict: the answer, stripped of quotes and punctuation, must equal one label (any case)."""
    lines = answer.strip().splitlines()
    if not lines:
        return None
    cleaned = lines[0].strip(_ANSWER_PUNCTUATION).casefold()
    for label in labels:
        if cleaned == label.casefold():
            return label
    return None


def _normalise(scores: Sequence[float | None], labels: Sequence[str]) -> dict[str, float]:
    found = {label: s for label, s in zip(labels, scores, strict=True) if s is not None}
    if not found:
        return {}
    top = max(found.values())
    total = sum(math.exp(s - top) for s in found.values())
    return {label: math.exp(s - top) / total for label, s in found.items()}


def classify_with_teacher(
    config: Config,
    teacher: Teacher,
    language: str,
    texts: Sequence[str],
    shots: Sequence[Example] = (),
) -> list[TeacherPrediction]:
    """Label each text with the teacher; `shots` are the k-shot examples shown in every prompt."""
    task = config.task
    labels = task.label_names
    mode = config.teacher.prompt_mode
    variables = {
        "language": resolve_language(language).name,
        "domain": task.domain,
        "text_kind": task.text_kind,
        "label_kind": task.label_kind,
        "labels": labels,
        "label_specs": task.labels,
        "shots": [{"text": s.text, "label": s.label} for s in shots],
    }
    prompts = [render(f"classify.{mode}.v1", text=text, **variables).text for text in texts]
    desc = f"teacher {len(shots)}-shot {language}"
    if mode == "completion":
        all_scores = teacher.score_many(prompts, [" " + label for label in labels], desc=desc)
        predictions = []
        for scores in all_scores:
            probabilities = _normalise(scores, labels)
            label = max(probabilities, key=probabilities.__getitem__) if probabilities else None
            predictions.append(TeacherPrediction(label, probabilities))
        return predictions
    requests = [CompletionRequest(messages=(("user", prompt),), max_tokens=20, temperature=0.0) for prompt in prompts]
    answers = teacher.complete_many(requests, desc=desc)
    return [TeacherPrediction(parse_label_answer(a.text, labels), answer=a.text) for a in answers]
