"""The teacher as a classifier, zero- and k-shot: the baseline that students must beat.

Completion-mode teachers score every label as the continuation of the prompt; chat-mode teachers answer
greedily and the answer must name a label exactly. Either way an answer that maps to no label stays None
and counts as wrong; it never becomes a class of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from synthdistill.config import TaskSpec
from synthdistill.data import Example, sample_per_label
from synthdistill.errors import TeacherError
from synthdistill.prompts import render, task_variables
from synthdistill.teachers.protocol import PromptMode, prompt_request
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


PromptStyle = Literal["label_name", "numbered"]
CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")  # Zhao et al. (2021): inputs that favour no label


@dataclass(frozen=True)
class TeacherSetting:
    """One way of asking the teacher; the report shows each, and the best on the human dev split."""

    shots: int  # human examples per label in the prompt
    prompt: PromptStyle = "label_name"
    calibrated: bool = False

    @property
    def name(self) -> str:
        suffix = ("-numbered" if self.prompt == "numbered" else "") + ("-calibrated" if self.calibrated else "")
        return f"teacher-{self.shots}shot{suffix}"


def shots_per_label(pool: Sequence[Example], labels: Sequence[str], k: int, *, seed: int) -> list[Example]:
    """Up to k human examples of each label for the teacher's prompt, drawn with `seed`, in the task's label order."""
    by_label = sample_per_label(pool, k, seed=seed) if k else {}
    return [example for label in labels for example in by_label.get(label, [])]


def classify_with_teacher(
    task: TaskSpec,
    mode: PromptMode,
    teacher: Teacher,
    language: str,
    texts: Sequence[str],
    shots: Sequence[Example] = (),
    *,
    prompt: PromptStyle = "label_name",
    shots_per_text: Sequence[Sequence[Example]] | None = None,
) -> list[TeacherPrediction]:
    """Label each text with the teacher; `shots` are the k-shot examples shown in every prompt, or
    `shots_per_text` gives each text its own (nearest-neighbour demonstrations).

    `label_name` scores each label's name as the answer; `numbered` lists the labels and scores their
    numbers (completion mode only).
    """
    labels = task.label_names
    if prompt == "numbered" and mode != "completion":
        raise TeacherError("numbered label prompts need a completion-mode teacher")
    number = {label: str(i) for i, label in enumerate(labels, start=1)}
    variables = {**task_variables(task, language), "labels": labels, "label_specs": task.labels}
    template = f"classify.{mode}.v1" if prompt == "label_name" else f"classify_numbered.{mode}.v1"
    per_text = shots_per_text if shots_per_text is not None else [shots] * len(texts)
    prompts = [
        render(
            template,
            text=text,
            shots=[{"text": s.text, "label": s.label, "number": number[s.label]} for s in text_shots],
            **variables,
        ).text
        for text, text_shots in zip(texts, per_text, strict=True)
    ]
    desc = f"teacher {len(shots)}-shot {prompt} {language}"
    if mode == "completion":
        options = [" " + (label if prompt == "label_name" else number[label]) for label in labels]
        predictions = []
        for scores in teacher.score_many(prompts, options, desc=desc):
            probabilities = _normalise(scores, labels)
            label = max(probabilities, key=probabilities.__getitem__) if probabilities else None
            predictions.append(TeacherPrediction(label, probabilities))
        return predictions
    requests = [prompt_request(prompt, mode, max_tokens=20, temperature=0.0) for prompt in prompts]
    answers = teacher.complete_many(requests, desc=desc)
    return [TeacherPrediction(parse_label_answer(a.text, labels), answer=a.text) for a in answers]


def content_free_baseline(
    task: TaskSpec, mode: PromptMode, teacher: Teacher, language: str, shots: Sequence[Example], prompt: PromptStyle
) -> dict[str, float]:
    """The teacher's mean label probabilities for inputs that carry no content: its bias to divide out."""
    predictions = classify_with_teacher(task, mode, teacher, language, CONTENT_FREE_INPUTS, shots, prompt=prompt)
    labels = task.label_names
    found = [p.probabilities for p in predictions if p.probabilities]
    if not found:
        return {}
    return {label: sum(p.get(label, 0.0) for p in found) / len(found) for label in labels}


def calibrate(prediction: TeacherPrediction, baseline: dict[str, float]) -> TeacherPrediction:
    """Contextual calibration: divide each label's probability by its content-free probability."""
    if not prediction.probabilities or not baseline:
        return prediction
    floor = min((b for b in baseline.values() if b > 0), default=1.0)
    adjusted = {label: p / max(baseline.get(label, 0.0), floor) for label, p in prediction.probabilities.items()}
    total = sum(adjusted.values())
    probabilities = {label: value / total for label, value in adjusted.items()}
    return TeacherPrediction(max(probabilities, key=probabilities.__getitem__), probabilities, prediction.answer)
