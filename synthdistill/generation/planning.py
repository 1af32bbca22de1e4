"""Planning: per language and label, the requests that ask the teacher for samples, from the generation spec
alone (plus, for taboo words, the answers of earlier rounds, which the cache keeps), so a re-run plans the
same requests and pays for none of them again."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from synthdistill.config import GenerationSpec, TaskSpec
from synthdistill.data import Example, seeds_after
from synthdistill.generation.token_budgets import token_budgets
from synthdistill.prompts import RenderedPrompt, render, task_variables
from synthdistill.teachers.protocol import CompletionRequest, PromptMode, prompt_request

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


def calls_per_label(generation: GenerationSpec) -> int:
    return -(-generation.samples_per_label // generation.samples_per_call)


def round_of(generation: GenerationSpec, call_index: int) -> int:
    """Calls are split into consecutive, nearly equal rounds."""
    return call_index * generation.effective_rounds // calls_per_label(generation)


def _attribute(generation: GenerationSpec, label: str, call_index: int) -> str | None:
    options = generation.attributes.get(label) or generation.attributes.get("*")
    return options[call_index % len(options)] if options else None


def plan_generation(
    task: TaskSpec,
    gen: GenerationSpec,
    mode: PromptMode,
    seeds: Mapping[str, Sequence[Example]],
    *,
    summaries: Summaries | None = None,
    taboo: Mapping[tuple[str, str], Sequence[str]] | None = None,
    round_index: int | None = None,
    max_tokens: Mapping[str, int] | None = None,
) -> list[GenerationJob]:
    """The requests of one round (all rounds when `round_index` is None), in a fixed order.

    `seeds` maps a language to its human examples; demonstrations come from `generation.demo_language`'s
    seeds when it is set, else from the target language's. `max_tokens`: per language, the tokens one sample
    may take (token_budgets); without it, `generation.max_tokens`, or with auto its estimate from the seeds.
    """
    template = gen.template or f"generate.{mode}.v2"
    n = gen.samples_per_call
    if max_tokens is None:
        max_tokens = {language: b.tokens for language, b in token_budgets(gen, task.languages, seeds).items()}
    jobs: list[GenerationJob] = []
    for language in task.languages:
        demo_code = gen.demo_language or language
        variables = {**task_variables(task, language), "demo_language": task_variables(task, demo_code)["language"]}
        by_label: dict[str, list[str]] = {}
        for example in seeds.get(demo_code, ()):
            by_label.setdefault(example.label, []).append(example.text)
        for label in task.labels:
            pool = by_label.get(label.name, [])
            description = (summaries or {}).get(language, {}).get(label.name) or label.description
            words = tuple((taboo or {}).get((language, label.name), ()))
            rendered: dict[tuple[tuple[str, ...], str | None], RenderedPrompt] = {}  # without demos, one prompt
            seed_of_call = seeds_after(gen.seed, task.name, language, label.name)
            for call in range(calls_per_label(gen)):
                round_number = round_of(gen, call)
                if round_index is not None and round_number != round_index:
                    continue
                seed = seed_of_call(call)
                demos = random.Random(seed).sample(pool, min(gen.demos_per_prompt, len(pool))) if pool else []
                attribute = _attribute(gen, label.name, call)
                prompt = rendered.get((tuple(demos), attribute))
                if prompt is None:
                    prompt = rendered[tuple(demos), attribute] = render(
                        template,
                        **variables,
                        label=label.name,
                        description=description,
                        demos=demos,
                        attribute=attribute,
                        taboo=list(words),
                        n=n,
                    )
                common = {
                    "max_tokens": max_tokens[language] * n,
                    "temperature": gen.temperature,
                    "top_p": gen.top_p,
                    "repetition_penalty": gen.repetition_penalty,
                    "seed": seed,
                }
                request = prompt_request(prompt.text, mode, stop=("\n",) if n == 1 else ("\n\n",), **common)
                jobs.append(
                    GenerationJob(
                        language, label.name, call, prompt, request, n, len(demos), attribute, words, round_number
                    )
                )  # fmt: skip
    return jobs
