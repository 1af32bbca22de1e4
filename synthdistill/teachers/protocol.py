"""What every teacher backend exchanges: one request, one completion, one small protocol."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, Protocol, runtime_checkable

PromptMode = Literal["completion", "chat"]
# one encoder for every key (json.dumps with options builds a new one per call); its output never changes
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class CompletionRequest:
    """A single call; `prompt` for completion mode, `messages` for chat mode."""

    prompt: str | None = None
    messages: tuple[tuple[str, str], ...] | None = None  # (role, content) pairs
    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float | None = None
    stop: tuple[str, ...] = ()
    top_logprobs: int | None = None  # ask for this many alternatives per generated token
    seed: int | None = None  # the sample index folds in here, so each sample is its own request

    @cached_property
    def canonical_json(self) -> str:
        """The canonical form as JSON, computed once: the cache key and the cache row both use it."""
        return _CANONICAL_ENCODER.encode(self.canonical())

    def canonical(self) -> dict[str, Any]:
        """The parts that define the answer, for cache keys and logs (by hand: asdict is slow)."""
        return {
            "prompt": self.prompt,
            "messages": [list(m) for m in self.messages] if self.messages is not None else None,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "repetition_penalty": self.repetition_penalty,
            "stop": list(self.stop),
            "top_logprobs": self.top_logprobs,
            "seed": self.seed,
        }


def prompt_request(text: str, mode: PromptMode, *, stop: tuple[str, ...] = (), **sampling: Any) -> CompletionRequest:
    """`text` as the prompt of a completion-mode teacher or as the user's message to a chat-mode one; `stop`
    applies to completions only (a chat answer ends by itself)."""
    if mode == "completion":
        return CompletionRequest(prompt=text, stop=stop, **sampling)
    return CompletionRequest(messages=(("user", text),), **sampling)


@dataclass
class Completion:
    text: str
    finish_reason: str | None = None
    top_logprobs: list[dict[str, float]] = field(default_factory=list)  # one dict per generated token
    prompt_tokens: int = 0
    completion_tokens: int = 0
    served_model: str | None = None  # the model the server says answered, when it says
    fingerprint: str | None = None  # the server's system_fingerprint (its build and configuration), when it reports one

    def to_dict(self) -> dict[str, Any]:
        row = {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "top_logprobs": self.top_logprobs,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
        if self.served_model is not None:  # absent rather than null: a cache holds millions of rows
            row["served_model"] = self.served_model
        if self.fingerprint is not None:
            row["fingerprint"] = self.fingerprint
        return row

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        return cls(**data)


class TeacherBackend(Protocol):
    """A transport to one model. Retries of transient faults live here; caching does not."""

    model: str
    mode: PromptMode
    score_top_k: int

    async def complete(self, request: CompletionRequest) -> Completion: ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class TokenCounter(Protocol):
    """What a backend may add: the model's own token count of texts, so generation can size an answer's
    max_tokens to the language (the same sentence takes several times more tokens in a language the
    tokenizer knows badly). Most hosted APIs offer no tokenizer, so it is optional."""

    async def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """One count per text, without special tokens; None when the server has no tokenizer to ask.
        Raises TeacherError when it has one that failed."""
        ...
