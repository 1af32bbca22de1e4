"""Teachers: backends by registry, wrapped in the caching, concurrent engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthdistill.config import EmbeddedTeacherSpec, OpenAITeacherSpec, TeacherSpec
from synthdistill.teachers.cache import RequestCache
from synthdistill.teachers.protocol import Completion, CompletionRequest, TeacherBackend
from synthdistill.teachers.rate_limit import RateLimiter
from synthdistill.teachers.teacher import Budget, Teacher, TeacherStats


def _client_options(spec: TeacherSpec) -> dict[str, Any]:
    """The OpenAI-protocol client's settings: both backends use the client (embedded: on its llama.cpp server)."""
    return {
        "timeout_s": spec.timeout_s,
        "max_retries": spec.max_retries,
        "max_consecutive_errors": spec.max_consecutive_errors,
        "backoff_s": spec.backoff_s,
        "max_backoff_s": spec.max_backoff_s,
    }


def _embedded(spec: EmbeddedTeacherSpec) -> TeacherBackend:
    from synthdistill.teachers.embedded import EmbeddedBackend, ServerSettings

    return EmbeddedBackend(
        spec.model_path,
        ServerSettings(
            n_parallel=spec.n_parallel, n_ctx=spec.n_ctx, n_threads=spec.n_threads, cache_ram_mib=spec.cache_ram_mib
        ),
        score_top_k=spec.score_top_k or 100,
        **_client_options(spec),
    )


def _openai(spec: OpenAITeacherSpec) -> TeacherBackend:
    from synthdistill.teachers.openai import OpenAICompatibleBackend

    assert spec.base_url is not None and spec.model is not None  # the config validated both
    return OpenAICompatibleBackend(
        spec.base_url,
        spec.model,
        mode=spec.prompt_mode,
        api_key_env=spec.api_key_env,
        score_top_k=spec.score_top_k or 20,
        **_client_options(spec),
    )


# each builds a backend from its own member of TeacherSpec, the one whose `backend` is the key
BACKENDS: dict[str, Callable[[Any], TeacherBackend]] = {"embedded": _embedded, "openai": _openai}


def estimated_cost(spec: TeacherSpec, prompt_tokens: int, completion_tokens: int) -> float | None:
    """At the teacher's configured prices; None when it has none."""
    if spec.price_per_million_prompt is None and spec.price_per_million_completion is None:
        return None
    return (
        prompt_tokens * (spec.price_per_million_prompt or 0.0)
        + completion_tokens * (spec.price_per_million_completion or 0.0)
    ) / 1e6


def open_teacher(spec: TeacherSpec, cache_path: str | Path | None = None, *, progress: bool = True) -> Teacher:
    """The teacher a config describes, with its request cache at `cache_path` (none when None)."""
    backend = BACKENDS[spec.backend](spec)
    cache = RequestCache(cache_path) if cache_path is not None else None
    return Teacher(
        backend,
        cache,
        max_concurrency=spec.concurrency,
        progress=progress,
        rate_limiter=RateLimiter(spec.requests_per_minute, spec.tokens_per_minute),
        budget=Budget(spec.max_requests, spec.max_tokens),
        cost=lambda stats: estimated_cost(spec, stats.prompt_tokens, stats.completion_tokens),
    )


__all__ = [
    "BACKENDS",
    "Completion",
    "CompletionRequest",
    "RequestCache",
    "Teacher",
    "TeacherBackend",
    "TeacherStats",
    "estimated_cost",
    "open_teacher",
]
