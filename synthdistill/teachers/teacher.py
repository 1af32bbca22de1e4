"""The engine around a backend: request cache, concurrency limit, token counts, progress, label scoring."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from synthdistill.errors import BudgetExhaustedError, TeacherError
from synthdistill.progress import progress as progress_bar
from synthdistill.teachers.cache import RequestCache, request_key, token_count_key
from synthdistill.teachers.protocol import Completion, CompletionRequest, TeacherBackend, TokenCounter
from synthdistill.teachers.rate_limit import RateLimiter

T = TypeVar("T")

_PARTIAL_CHARACTER = "\ufffd"  # how a byte token that is only part of a UTF-8 character comes back
_SCORE_MAX_DEPTH = 4  # tokens walked per label before its remaining text is taken as given
_SCORE_PRUNE_LOGPROB = math.log(0.02)  # a rarer path (a non-canonical tokenisation) is not worth a request


@dataclass(frozen=True)
class Budget:
    """A cap on what one run may send; answers from the cache are free."""

    max_requests: int | None = None
    max_tokens: int | None = None


def estimated_tokens(request: CompletionRequest) -> int:
    """Tokens a request may use before it is sent: about 4 characters a token, plus the answer's cap."""
    text = request.prompt or "".join(content for _, content in request.messages or ())
    return len(text) // 4 + request.max_tokens


@dataclass
class TeacherStats:
    sent: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # tokens of answers taken from the cache: paid for in an earlier run
    cached_completion_tokens: int = 0
    not_sent: int = 0  # requests skipped because the budget was spent

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def __add__(self, other: TeacherStats) -> TeacherStats:
        """Two runs' counts together (repeated runs report their sum)."""
        return TeacherStats(**{name: value + getattr(other, name) for name, value in asdict(self).items()})


class Teacher:
    """Sends requests through the cache; a repeated request is answered without reaching the backend."""

    def __init__(
        self,
        backend: TeacherBackend,
        cache: RequestCache | None = None,
        *,
        max_concurrency: int = 4,
        progress: bool = True,
        rate_limiter: RateLimiter | None = None,
        budget: Budget | None = None,
        cost: Callable[[TeacherStats], float | None] | None = None,
    ):
        """`cost`: the price of the tokens so far (None: no prices known), shown beside the progress."""
        self.backend = backend
        self.cache = cache
        self.max_concurrency = max_concurrency
        self.progress = progress
        self.rate_limiter = rate_limiter or RateLimiter()
        self.budget = budget or Budget()
        self.stats = TeacherStats()
        self.cost = cost

    def _check_budget(self) -> None:
        spent_tokens = self.stats.prompt_tokens + self.stats.completion_tokens
        if self.budget.max_requests is not None and self.stats.sent >= self.budget.max_requests:
            raise BudgetExhaustedError(f"teacher budget of {self.budget.max_requests} requests is spent")
        if self.budget.max_tokens is not None and spent_tokens >= self.budget.max_tokens:
            raise BudgetExhaustedError(f"teacher budget of {self.budget.max_tokens} tokens is spent")

    @property
    def model(self) -> str:
        return self.backend.model

    @property
    def mode(self) -> str:
        return self.backend.mode

    def _cached(self, key: str) -> Completion | None:
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            self._count_cached(hit)
        return hit

    def _count_cached(self, hit: Completion) -> None:
        self.stats.cached += 1
        self.stats.cached_prompt_tokens += hit.prompt_tokens
        self.stats.cached_completion_tokens += hit.completion_tokens

    async def _send(self, key: str, request: CompletionRequest, limit: asyncio.Semaphore) -> Completion:
        async with limit:
            self._check_budget()
            await self.rate_limiter.acquire(estimated_tokens(request))
            self._check_budget()
            answer = await self.backend.complete(request)
        self.stats.sent += 1
        self.stats.prompt_tokens += answer.prompt_tokens
        self.stats.completion_tokens += answer.completion_tokens
        if self.cache is not None:
            self.cache.put(key, self.backend.model, request, answer)
        return answer

    async def _complete(self, request: CompletionRequest, limit: asyncio.Semaphore) -> Completion:
        key = request_key(self.backend.model, request)
        return self._cached(key) or await self._send(key, request, limit)

    def _bar(self, total: int, desc: str) -> Any:
        """A bar on a terminal, a plain line every 30 s in a log; requests, tokens and cost so far beside it."""
        return progress_bar(total, desc, unit="req", enabled=self.progress)

    def _bar_postfix(self) -> dict[str, object]:
        stats = self.stats
        shown: dict[str, object] = {"sent": stats.sent, "cached": stats.cached}
        shown["tokens"] = stats.prompt_tokens + stats.completion_tokens
        cost = self.cost(stats) if self.cost is not None else None
        if cost is not None:
            shown["cost"] = f"{cost:.4f}"
        return shown

    def _run(self, coroutine_factory: Callable[[], Awaitable[T]]) -> T:
        async def main() -> T:
            try:
                return await coroutine_factory()
            finally:
                if self.cache is not None:
                    self.cache.flush()
                await self.backend.aclose()

        try:
            return asyncio.run(main())
        except* TeacherError as group:  # the first failure of a batch, not the whole task group
            raise group.exceptions[0] from None

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """Each text's length in the teacher's own tokens, or None where its backend offers no tokenizer.

        Counts are cached with the answers: a re-run sizes its requests alike, and asks no server. A tokenizer
        that fails, or answers a count per text that is not one, raises TeacherError.
        """
        if not isinstance(self.backend, TokenCounter):
            return None
        key = token_count_key(self.backend.model, texts)
        cached = self.cache.get_token_counts(key) if self.cache is not None else None
        if cached is not None:
            return cached
        counter = self.backend
        counts = self._run(lambda: counter.count_tokens(list(texts)))
        if counts is None:
            return None
        if len(counts) != len(texts) or not all(isinstance(c, int) and c >= 0 for c in counts):
            raise TeacherError(f"the tokenizer of {self.model} gave no whole count for each of {len(texts)} texts")
        if self.cache is not None:
            self.cache.put_token_counts(key, counts)
        return counts

    def complete_many(self, requests: Sequence[CompletionRequest], desc: str = "teacher") -> list[Completion]:
        """Answer all requests, at most `max_concurrency` at a time; the first hard failure stops the batch."""
        return [answer for answer in self._complete_batch(requests, desc, partial=False) if answer is not None]

    def complete_within_budget(
        self, requests: Sequence[CompletionRequest], desc: str = "teacher"
    ) -> list[Completion | None]:
        """Like complete_many, but a spent budget is no failure: unsent requests come back as None."""
        return self._complete_batch(requests, desc, partial=True)

    def _complete_batch(
        self, requests: Sequence[CompletionRequest], desc: str, *, partial: bool
    ) -> list[Completion | None]:

        results: list[Completion | None] = [None] * len(requests)
        if self.cache is None:  # keys only serve the cache: skip them (7 us a request)
            keys, hits = [""] * len(requests), {}
        else:
            keys = [request_key(self.backend.model, request) for request in requests]
            hits = self.cache.get_many(keys)
        missing: list[int] = []
        for index, key in enumerate(keys):
            hit = hits.get(key)
            if hit is None:
                missing.append(index)
            else:
                results[index] = hit
                self._count_cached(hit)
        if not missing:  # a re-run of a finished job: no event loop, no backend
            return results
        # twins: a request repeated in the batch may be answered by its twin first, then read from the cache
        repeated = (
            {key for key, count in Counter(keys[i] for i in missing).items() if count > 1}
            if self.cache is not None
            else set()
        )

        async def gather() -> list[Completion | None]:
            # max_concurrency workers pulling from one queue: a task and a semaphore wait per request cost
            # more than the request itself against a fast local server
            limit = asyncio.Semaphore(self.max_concurrency)
            queue = iter(missing)
            with self._bar(len(requests), desc) as bar:
                bar.update(len(requests) - len(missing))
                shown = not bar.disable

                async def worker() -> None:
                    for index in queue:
                        key = keys[index]
                        try:
                            # a request repeated within the batch may have been answered by its twin meanwhile
                            results[index] = (key in repeated and self._cached(key)) or await self._send(
                                key, requests[index], limit
                            )
                        except BudgetExhaustedError:
                            if not partial:
                                raise
                            self.stats.not_sent += 1
                        if shown:
                            bar.set_postfix(refresh=False, **self._bar_postfix())
                            bar.update(1)

                async with asyncio.TaskGroup() as group:
                    for _ in range(min(self.max_concurrency, len(missing))):
                        group.create_task(worker())
            return results

        return self._run(gather)

    async def _score_one(
        self, prompt: str, continuations: Sequence[str], limit: asyncio.Semaphore
    ) -> list[float | None]:
        """Log-probability of each continuation, by walking the teacher's top tokens from the prompt.

        Walking stops for a label once its text is told apart from every other label's, so labels that
        differ in their first token cost one request per text (from a cached prompt prefix).
        """
        probabilities = [0.0] * len(continuations)
        top_k = self.backend.score_top_k

        async def walk(prefix: str, pending: dict[int, str], depth: int, logp: float) -> None:
            request = CompletionRequest(prompt=prompt + prefix, max_tokens=1, temperature=0.0, top_logprobs=top_k)
            answer = await self._complete(request, limit)
            if not answer.top_logprobs:
                if _PARTIAL_CHARACTER in answer.text:
                    return  # llama.cpp gives no log-probabilities for a token that is part of a character: no label
                raise TeacherError(f"teacher {self.model} returned no log-probabilities, so it cannot score labels")
            children: dict[str, dict[int, str]] = {}
            for token, token_logprob in answer.top_logprobs[0].items():
                if not token:
                    continue
                for index, rest in pending.items():
                    if not rest.startswith(token):
                        continue
                    full = continuations[index]
                    consumed = full[: len(full) - len(rest) + len(token)]
                    told_apart = not any(
                        other.startswith(consumed) for j, other in enumerate(continuations) if j != index
                    )
                    if len(token) == len(rest) or told_apart:
                        probabilities[index] += math.exp(logp + token_logprob)
                    elif depth < _SCORE_MAX_DEPTH and logp + token_logprob > _SCORE_PRUNE_LOGPROB:
                        children.setdefault(token, {})[index] = rest[len(token) :]
            await asyncio.gather(
                *(
                    walk(prefix + token, rest, depth + 1, logp + answer.top_logprobs[0][token])
                    for token, rest in children.items()
                )
            )

        await walk("", dict(enumerate(continuations)), 0, 0.0)
        return [math.log(p) if p > 0 else None for p in probabilities]

    def score_many(
        self, prompts: Sequence[str], continuations: Sequence[str], desc: str = "scoring"
    ) -> list[list[float | None]]:
        """For each prompt, the log-probability of each continuation; None where it is not among the top tokens."""
        if self.backend.mode != "completion":
            raise TeacherError("label scoring needs a completion-mode teacher (teacher.mode: completion)")

        async def gather() -> list[list[float | None]]:
            limit = asyncio.Semaphore(self.max_concurrency)
            results: list[list[float | None]] = [[] for _ in prompts]
            with self._bar(len(prompts), desc) as bar:

                async def one(index: int, prompt: str) -> None:
                    results[index] = await self._score_one(prompt, continuations, limit)
                    bar.set_postfix(refresh=False, **self._bar_postfix())
                    bar.update(1)

                async with asyncio.TaskGroup() as group:
                    for index, prompt in enumerate(prompts):
                        group.create_task(one(index, prompt))
            return results

        return self._run(gather)

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()
