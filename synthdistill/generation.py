"""First strategy: per language and label, N samples from the label description and a few human seeds."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from synthdistill.config import Config
from synthdistill.data import Example
from synthdistill.languages import resolve_language
from synthdistill.prompts import RenderedPrompt, render
from synthdistill.teachers.protocol import CompletionRequest
from synthdistill.teachers.teacher import Teacher

_LEADING_MARKERS = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\"|“|«|'|(?:sentence|text|example)\s*\d*\s*:)\s*", re.I)
_TRAILING_QUOTES = re.compile(r"[\"”»']+$")


@dataclass(frozen=True)
class GenerationJob:
    """One request of the plan: which language, label and sample it is, and what is sent."""

    language: str
    label: str
    sample_index: int
    prompt: RenderedPrompt
    request: CompletionRequest
    n_demos: int


@dataclass
class DroppedSample:
    text: str
    language: str
    label: str
    reason: str
    meta: dict

    def to_dict(self) -> dict:
        return {"text": self.text, "language": self.language, "label": self.label, "reason": self.reason, **self.meta}


def sample_seed(*parts: object) -> int:
    """A stable 31-bit seed from the parts, so a sample's demos and sampling seed never change between runs."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def plan_generation(config: Config, seeds: Mapping[str, Sequence[Example]]) -> list[GenerationJob]:
    """All requests of a generation run, in a fixed order; `seeds` maps language to human examples."""
    task, gen = config.task, config.generation
    mode = config.teacher.prompt_mode
    template = f"generate.{mode}.v1"
    jobs: list[GenerationJob] = []
    for language in task.languages:
        language_name = resolve_language(language).name
        by_label: dict[str, list[str]] = {}
        for example in seeds.get(language, ()):
            by_label.setdefault(example.label, []).append(example.text)
        for label in task.labels:
            pool = by_label.get(label.name, [])
            for index in range(gen.samples_per_label):
                seed = sample_seed(gen.seed, task.name, language, label.name, index)
                demos = random.Random(seed).sample(pool, min(gen.demos_per_prompt, len(pool)))
                prompt = render(
                    template,
                    language=language_name,
                    domain=task.domain,
                    text_kind=task.text_kind,
                    label_kind=task.label_kind,
                    label=label.name,
                    description=label.description,
                    demos=demos,
                )
                common = {
                    "max_tokens": gen.max_tokens,
                    "temperature": gen.temperature,
                    "top_p": gen.top_p,
                    "seed": seed,
                }
                if mode == "completion":
                    request = CompletionRequest(prompt=prompt.text, stop=("\n",), **common)
                else:
                    request = CompletionRequest(messages=(("user", prompt.text),), **common)
                jobs.append(GenerationJob(language, label.name, index, prompt, request, len(demos)))
    return jobs


def parse_generated(text: str, finish_reason: str | None, mode: str) -> tuple[str | None, str]:
    """Clean one answer into a sample, or return (None, reason) for an answer that is no sample."""
    if finish_reason == "length":
        return None, "truncated"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None, "empty"
    if mode == "chat" and len(lines) > 1:
        return None, "several_lines"
    cleaned = _TRAILING_QUOTES.sub("", _LEADING_MARKERS.sub("", lines[0])).strip()
    if not cleaned:
        return None, "empty"
    return cleaned, "ok"


def generate_samples(
    config: Config, teacher: Teacher, seeds: Mapping[str, Sequence[Example]]
) -> tuple[list[Example], list[DroppedSample]]:
    """Ask the teacher for every planned sample; parse answers; return samples and unparsable answers."""
    jobs = plan_generation(config, seeds)
    answers = teacher.complete_many([job.request for job in jobs], desc="generating")
    samples: list[Example] = []
    dropped: list[DroppedSample] = []
    for job, answer in zip(jobs, answers, strict=True):
        meta = {
            "teacher": teacher.model,
            "template": job.prompt.template,
            "prompt_hash": job.prompt.digest,
            "sample_index": job.sample_index,
            "n_demos": job.n_demos,
        }
        text, reason = parse_generated(answer.text, answer.finish_reason, config.teacher.prompt_mode)
        if text is None:
            dropped.append(DroppedSample(answer.text, job.language, job.label, reason, meta))
        else:
            samples.append(Example(text=text, label=job.label, language=job.language, meta=meta))
    return samples, dropped
