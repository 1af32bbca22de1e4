"""Generation: per language and label, the teacher writes samples from the label's description (or its
teacher-written summary), human demonstrations, an attribute to write about and words to avoid.

Each request is planned from the config alone (plus, for taboo words, the answers of earlier rounds, which
the cache keeps), so a re-run plans the same requests and pays for none of them again.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from synthdistill.config import Config
from synthdistill.data import Example
from synthdistill.languages import resolve_language
from synthdistill.prompts import RenderedPrompt, render
from synthdistill.teachers.protocol import CompletionRequest
from synthdistill.teachers.teacher import Teacher

_LEADING_MARKERS = re.compile(r"^\s*(?:[-*•]|\d+[.):]|\"|“|«|'|(?:sentence|text|example)\s*\d*\s*:)\s*", re.I)
_TRAILING_QUOTES = re.compile(r"[\"”»']+$")
_WORD = re.compile(r"\w{4,}", re.UNICODE)

Summaries = Mapping[str, Mapping[str, str]]  # language -> label -> teacher-written description


@dataclass(frozen=True)
class GenerationJob:
    """One request of the plan: where its samples belong, what conditions them, and what is sent."""

    language: str
    label: str
    call_index: int
    prompt: RenderedPrompt
    request: CompletionRequest
    n_samples: int
    n_demos: int
    attribute: str | None = None
    taboo: tuple[str, ...] = ()
    round: int = 0


@dataclass
class DroppedSample:
    text: str
    language: str
    label: str
    reason: str
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"text": self.text, "language": self.language, "label": self.label, "reason": self.reason, **self.meta}


def sample_seed(*parts: object) -> int:
    """A stable 31-bit seed from the parts, so a sample's demos and sampling seed never change between runs."""
    return seeds_after(*parts[:-1])(parts[-1]) if parts else seeds_after()("")


def seeds_after(*prefix: object) -> Callable[[object], int]:
    """`sample_seed(*prefix, last)` as a function of `last`, hashing the shared prefix once."""
    shared = hashlib.sha256(("\x1f".join(map(str, prefix)) + ("\x1f" if prefix else "")).encode("utf-8"))

    def seed(last: object) -> int:
        digest = shared.copy()
        digest.update(str(last).encode("utf-8"))
        return int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF

    return seed


def calls_per_label(config: Config) -> int:
    gen = config.generation
    return -(-gen.samples_per_label // gen.samples_per_call)


def round_of(config: Config, call_index: int) -> int:
    """Calls are split into consecutive, nearly equal rounds."""
    return call_index * config.generation.effective_rounds // calls_per_label(config)


def _attribute(config: Config, label: str, call_index: int) -> str | None:
    options = config.generation.attributes.get(label) or config.generation.attributes.get("*")
    return options[call_index % len(options)] if options else None


def plan_generation(
    config: Config,
    seeds: Mapping[str, Sequence[Example]],
    *,
    summaries: Summaries | None = None,
    taboo: Mapping[tuple[str, str], Sequence[str]] | None = None,
    round_index: int | None = None,
) -> list[GenerationJob]:
    """The requests of one round (all rounds when `round_index` is None), in a fixed order.

    `seeds` maps a language to its human examples; demonstrations come from `generation.demo_language`'s
    seeds when it is set, else from the target language's.
    """
    task, gen = config.task, config.generation
    mode = config.teacher.prompt_mode
    template = gen.template or f"generate.{mode}.v2"
    n = gen.samples_per_call
    jobs: list[GenerationJob] = []
    for language in task.languages:
        demo_code = gen.demo_language or language
        names = {"language": resolve_language(language).name, "demo_language": resolve_language(demo_code).name}
        by_label: dict[str, list[str]] = {}
        for example in seeds.get(demo_code, ()):
            by_label.setdefault(example.label, []).append(example.text)
        for label in task.labels:
            pool = by_label.get(label.name, [])
            description = (summaries or {}).get(language, {}).get(label.name) or label.description
            words = tuple((taboo or {}).get((language, label.name), ()))
            rendered: dict[tuple[tuple[str, ...], str | None], RenderedPrompt] = {}  # without demos, one prompt
            seed_of_call = seeds_after(gen.seed, task.name, language, label.name)
            for call in range(calls_per_label(config)):
                round_number = round_of(config, call)
                if round_index is not None and round_number != round_index:
                    continue
                seed = seed_of_call(call)
                demos = random.Random(seed).sample(pool, min(gen.demos_per_prompt, len(pool))) if pool else []
                attribute = _attribute(config, label.name, call)
                prompt = rendered.get((tuple(demos), attribute))
                if prompt is None:
                    prompt = rendered[tuple(demos), attribute] = render(
                        template,
                        **names,
                        domain=task.domain,
                        text_kind=task.text_kind,
                        label_kind=task.label_kind,
                        label=label.name,
                        description=description,
                        demos=demos,
                        attribute=attribute,
                        taboo=list(words),
                        n=n,
                    )
                common = {
                    "max_tokens": gen.max_tokens * n,
                    "temperature": gen.temperature,
                    "top_p": gen.top_p,
                    "repetition_penalty": gen.repetition_penalty,
                    "seed": seed,
                }
                if mode == "completion":
                    request = CompletionRequest(prompt=prompt.text, stop=("\n",) if n == 1 else ("\n\n",), **common)
                else:
                    request = CompletionRequest(messages=(("user", prompt.text),), **common)
                jobs.append(
                    GenerationJob(
                        language, label.name, call, prompt, request, n, len(demos), attribute, words, round_number
                    )
                )  # fmt: skip
    return jobs


def _clean(line: str) -> str:
    return _TRAILING_QUOTES.sub("", _LEADING_MARKERS.sub("", line)).strip()


def parse_generated(text: str, finish_reason: str | None, mode: str, n: int = 1) -> list[tuple[str | None, str, str]]:
    """Split one answer into up to `n` samples: (text, "ok", line) or (None, why it is no sample, line)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return [(None, "truncated" if finish_reason == "length" else "empty", text)]
    if n == 1 and mode == "chat" and len(lines) > 1:
        return [(None, "several_lines", text)]
    results: list[tuple[str | None, str, str]] = []
    for position, line in enumerate(lines[:n]):
        cut = finish_reason == "length" and position == len(lines[:n]) - 1 and len(lines) <= n
        cleaned = _clean(line)
        reason = "truncated" if cut else "ok" if cleaned else "empty"
        results.append((cleaned if reason == "ok" else None, reason, line))
    return results


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
            }
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
    config: Config,
    teacher: Teacher,
    seeds: Mapping[str, Sequence[Example]],
    summaries: Summaries | None = None,
) -> tuple[list[Example], list[DroppedSample]]:
    """Ask the teacher for every planned sample, round by round; parse answers into samples and drops."""
    samples: list[Example] = []
    dropped: list[DroppedSample] = []
    k = config.generation.taboo_words
    for round_index in range(config.generation.effective_rounds):
        taboo = taboo_words(samples, k) if k and round_index else None
        jobs = plan_generation(config, seeds, summaries=summaries, taboo=taboo, round_index=round_index)
        if not jobs:
            continue
        desc = "generating" if config.generation.effective_rounds == 1 else f"generating, round {round_index + 1}"
        answers = teacher.complete_within_budget([job.request for job in jobs], desc=desc)
        answered = [(job, answer) for job, answer in zip(jobs, answers, strict=True) if answer is not None]
        new_samples, new_dropped = _collect(
            [job for job, _ in answered], [answer for _, answer in answered], teacher, config.teacher.prompt_mode
        )
        samples += new_samples
        dropped += new_dropped
    return samples, dropped
