"""Shared fixtures: a deterministic fake teacher backend and a tiny task written to disk."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from synthdistill.teachers.protocol import Completion, CompletionRequest

SPORTS = [
    "The team won the football match in the final minute.",
    "She ran the marathon in under three hours.",
    "The tennis champion lost in the second round.",
    "Our goalkeeper saved two penalties in the cup game.",
    "The cyclists climbed the mountain stage at record speed.",
    "He scored forty points in the basketball game.",
]
POLITICS = [
    "The parliament passed the new budget law yesterday.",
    "The president met foreign ministers to discuss the treaty.",
    "Voters elected a new mayor after a close campaign.",
    "The opposition party called for early elections.",
    "The senate rejected the proposed tax reform.",
    "Ministers resigned after the government lost the vote.",
]


class FakeBackend:
    """Answers from a function of the request; counts what reached it."""

    def __init__(self, answer: Callable[[CompletionRequest], Completion], mode: str = "completion"):
        self.model = "fake-teacher"
        self.mode = mode
        self.score_top_k = 20
        self.answer = answer
        self.requests: list[CompletionRequest] = []
        self.closed = False

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return self.answer(request)

    async def aclose(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def topic_answer(request: CompletionRequest) -> Completion:
    """Generation: a sentence naming the requested label; scoring: prefers the label whose word is in the text."""
    prompt = request.prompt or request.messages[-1][1]
    if request.top_logprobs:
        last_text = prompt.rsplit("Sentence:", 1)[-1].lower()
        sporty = any(w in last_text for w in ("match", "game", "team", "ran", "scored", "cup"))
        top = {" sports": -0.2, " politics": -2.0} if sporty else {" sports": -2.0, " politics": -0.2}
        if prompt.endswith("Answer:"):  # numbered options: sports is 1, politics 2
            top = {" 1": top[" sports"], " 2": top[" politics"]}
        if last_text.strip().removesuffix("topic:").strip() in ("n/a", "", "[mask]"):
            top = {" sports": -0.1, " politics": -2.4}  # a biased teacher: content-free inputs say sports
        return Completion(text=" x", top_logprobs=[{**top, " The": -3.0}], prompt_tokens=10, completion_tokens=1)
    label = re.search(r'"([^"]+)"', prompt).group(1)
    return Completion(
        text=f" A {label} sentence number {request.seed} about {label}.",
        finish_reason="stop",
        prompt_tokens=20,
        completion_tokens=8,
    )


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend(topic_answer)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tiny_config_dict(**teacher: object) -> dict:
    return {
        "task": {
            "name": "tiny-topic",
            "domain": "short news sentences",
            "label_kind": "topic",
            "languages": ["en"],
            "labels": [
                {"name": "sports", "description": "games, athletes and competitions"},
                {"name": "politics", "description": "governments, elections and laws"},
            ],
        },
        "teacher": {"backend": "embedded", **teacher},
        "generation": {"samples_per_label": 3, "demos_per_prompt": 2, "max_tokens": 40},
        "filters": {"min_chars": 10},
        "data": {"seed": "data/{lang}/seed.jsonl", "test": "data/{lang}/test.jsonl"},
        "students": [{"type": "tfidf", "train_on": ["synthetic", "human"]}],
        "evaluation": {"teacher_shots": [0, 1]},
    }


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    """A folder with config.yaml and English seed/test data for a two-label topic task."""
    seed = [{"text": t, "label": "sports"} for t in SPORTS[:3]] + [
        {"text": t, "label": "politics"} for t in POLITICS[:3]
    ]
    test = [{"text": t, "label": "sports"} for t in SPORTS[3:]] + [
        {"text": t, "label": "politics"} for t in POLITICS[3:]
    ]
    write_jsonl(tmp_path / "data/en/seed.jsonl", seed)
    write_jsonl(tmp_path / "data/en/test.jsonl", test)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tiny_config_dict()), encoding="utf-8")
    return tmp_path
