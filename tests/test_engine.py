"""The engine around the backends: several endpoints, consecutive-error stop, budgets."""

import pytest
import yaml

from synthdistill import load_config
from synthdistill.errors import BudgetExhaustedError, TeacherError
from synthdistill.pipeline import generate
from synthdistill.teachers.openai import OpenAICompatibleBackend
from synthdistill.teachers.protocol import Completion, CompletionRequest
from synthdistill.teachers.teacher import Budget, Teacher
from tests.conftest import FakeBackend, tiny_config_dict
from tests.fault_server import fault_server

REQUESTS = [CompletionRequest(prompt="p", seed=i) for i in range(10)]


def test_requests_are_spread_over_endpoints():
    with fault_server([]) as first, fault_server([]) as second:
        backend = OpenAICompatibleBackend([first.url, second.url], "m", mode="completion")
        answers = Teacher(backend, progress=False).complete_many(REQUESTS)
    assert len(answers) == 10
    assert len(first.received) == 5 and len(second.received) == 5


def test_a_failing_endpoint_is_retried_on_the_next_one():
    with fault_server([("status", 503)] * 20) as broken, fault_server([]) as healthy:
        backend = OpenAICompatibleBackend([broken.url, healthy.url], "m", mode="completion", backoff_s=0.01)
        answers = Teacher(backend, progress=False).complete_many(REQUESTS)
    assert [a.text for a in answers] == [" fine"] * 10
    assert len(healthy.received) == 10  # five first tries plus five retries moved off the broken endpoint


def test_stops_after_consecutive_errors_without_using_all_retries():
    with fault_server([("status", 500)] * 50) as server:
        backend = OpenAICompatibleBackend(
            server.url, "m", mode="completion", max_retries=10, backoff_s=0.01, max_consecutive_errors=3
        )
        with pytest.raises(TeacherError, match="failed 3 times in a row"):
            Teacher(backend, max_concurrency=1, progress=False).complete_many(REQUESTS)
    assert len(server.received) <= 4  # three failures, and at most one request already on its way


def echo(request: CompletionRequest) -> Completion:
    return Completion(text=f"a{request.seed}", prompt_tokens=10, completion_tokens=5)


def test_request_budget_keeps_what_was_made():
    teacher = Teacher(FakeBackend(echo), max_concurrency=1, progress=False, budget=Budget(max_requests=4))
    answers = teacher.complete_within_budget(REQUESTS)
    assert [a.text if a else None for a in answers] == ["a0", "a1", "a2", "a3"] + [None] * 6
    assert teacher.stats.sent == 4 and teacher.stats.not_sent == 6
    with pytest.raises(BudgetExhaustedError, match="4 requests"):
        teacher.complete_many(REQUESTS)


def test_token_budget():
    teacher = Teacher(FakeBackend(echo), max_concurrency=1, progress=False, budget=Budget(max_tokens=40))
    answers = teacher.complete_within_budget(REQUESTS)
    assert sum(a is not None for a in answers) == 3  # 15 tokens each: the third crosses 40


def test_budget_stops_generation_cleanly_with_an_incomplete_card(tiny_project):
    with fault_server([("echo",)] * 10) as server:
        raw = tiny_config_dict(backend="openai", base_url=server.url, model="m", mode="completion", max_requests=4)
        raw["teacher"]["max_concurrency"] = 1
        (tiny_project / "budget.yaml").write_text(yaml.safe_dump(raw))
        samples, dropped = generate(load_config(tiny_project / "budget.yaml"), tiny_project / "out", progress=False)
    assert len(samples) + len(dropped) == 4
    card = (tiny_project / "out/dataset_card.md").read_text()
    assert "incomplete: the teacher budget was spent and 2 requests were not sent" in card
    assert len((tiny_project / "out/synthetic.jsonl").read_text().splitlines()) == len(samples)


def test_generation_through_a_flaky_server_completes_and_no_garbage_becomes_data(tiny_project):
    empty = ("json", {"choices": [{"text": "", "finish_reason": "stop"}]})
    faults = [("status", 429, {"Retry-After": "0.1"})] * 3 + [("status", 500), ("garbage", "{oops"), empty]
    with fault_server(faults + [("echo",)] * 20) as server:
        raw = tiny_config_dict(
            backend="openai", base_url=server.url, model="m", mode="completion", max_concurrency=1, backoff_s=0.01
        )
        raw["filters"] = {"min_chars": 10, "language_id": False, "near_duplicate_threshold": None}
        (tiny_project / "flaky.yaml").write_text(yaml.safe_dump(raw))
        samples, dropped = generate(load_config(tiny_project / "flaky.yaml"), tiny_project / "out", progress=False)
    assert len(server.received) == 6 + 5  # five faults retried, the empty answer accepted as an answer
    assert [d.reason for d in dropped] == ["empty"]
    assert len(samples) == 5 and all(s.text.startswith("A fine sentence about ") for s in samples)
