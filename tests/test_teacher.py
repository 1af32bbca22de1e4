import math

import pytest

from synthdistill.errors import TeacherError
from synthdistill.teachers.cache import RequestCache
from synthdistill.teachers.protocol import Completion, CompletionRequest
from synthdistill.teachers.teacher import Teacher
from tests.conftest import FakeBackend


def echo(request: CompletionRequest) -> Completion:
    return Completion(text=f"answer {request.seed}", prompt_tokens=5, completion_tokens=2)


def test_repeated_requests_come_from_the_cache(tmp_path):
    requests = [CompletionRequest(prompt="p", seed=i) for i in range(10)]
    backend = FakeBackend(echo)
    first = Teacher(backend, RequestCache(tmp_path / "c.sqlite"), progress=False)
    answers = first.complete_many(requests)
    assert [a.text for a in answers] == [f"answer {i}" for i in range(10)]
    assert (first.stats.sent, first.stats.cached, first.stats.prompt_tokens) == (10, 0, 50)
    first.close()
    again = FakeBackend(echo)
    second = Teacher(again, RequestCache(tmp_path / "c.sqlite"), progress=False)
    assert [a.text for a in second.complete_many(requests)] == [a.text for a in answers]
    assert (second.stats.sent, second.stats.cached) == (0, 10)
    assert again.requests == []


def test_a_failure_keeps_every_finished_answer_and_resume_sends_only_the_rest(tmp_path):
    def flaky(request: CompletionRequest) -> Completion:
        if request.seed == 7:
            raise TeacherError("teacher down")
        return echo(request)

    requests = [CompletionRequest(prompt="p", seed=i) for i in range(10)]
    teacher = Teacher(FakeBackend(flaky), RequestCache(tmp_path / "c.sqlite"), max_concurrency=1, progress=False)
    with pytest.raises(TeacherError, match="teacher down"):
        teacher.complete_many(requests)
    answered = teacher.stats.sent
    assert answered >= 7  # one at a time, in order: 0..6 answered before 7 failed
    teacher.close()
    healed = FakeBackend(echo)
    resumed = Teacher(healed, RequestCache(tmp_path / "c.sqlite"), progress=False)
    assert [a.text for a in resumed.complete_many(requests)] == [f"answer {i}" for i in range(10)]
    assert resumed.stats.cached == answered
    assert len(healed.requests) == 10 - answered
    assert 7 in {r.seed for r in healed.requests}


def walk_backend(tables: dict[str, dict[str, float]]) -> FakeBackend:
    """Top tokens by the prompt's suffix after 'Q:'."""

    def answer(request: CompletionRequest) -> Completion:
        suffix = request.prompt.split("Q:", 1)[1]
        return Completion(text="", top_logprobs=[tables.get(suffix, {"zzz": -0.1})])

    return FakeBackend(answer)


def test_scoring_labels_that_differ_in_their_first_token_costs_one_request():
    backend = walk_backend({"": {" yes": math.log(0.7), " no": math.log(0.2), " maybe": math.log(0.1)}})
    teacher = Teacher(backend, progress=False)
    [scores] = teacher.score_many(["Q:"], [" yes", " no"])
    assert scores == pytest.approx([math.log(0.7), math.log(0.2)])
    assert len(backend.requests) == 1
    assert backend.requests[0].top_logprobs == 20 and backend.requests[0].max_tokens == 1


def test_scoring_walks_a_space_token_and_shared_prefixes():
    # Gemma writes " 3" as " " then "3"; labels "sci-fi" and "science" share " sci".
    tables = {
        "": {" ": math.log(0.5), " sci": math.log(0.4), " 1": math.log(0.1)},
        " ": {"3": math.log(0.9), "1": math.log(0.1)},
        " sci": {"-fi": math.log(0.25), "ence": math.log(0.75)},
    }
    backend = walk_backend(tables)
    [scores] = Teacher(backend, progress=False).score_many(["Q:"], [" 1", " 3", " sci-fi", " science", " art"])
    one, three, scifi, science, art = scores
    assert one == pytest.approx(math.log(0.1 + 0.5 * 0.1))  # direct " 1" plus " " then "1"
    assert three == pytest.approx(math.log(0.5 * 0.9))
    assert scifi == pytest.approx(math.log(0.4 * 0.25))
    assert science == pytest.approx(math.log(0.4 * 0.75))
    assert art is None  # not among the top tokens: no score, never a guess


def test_scoring_needs_log_probabilities():
    backend = FakeBackend(lambda r: Completion(text="x"))
    with pytest.raises(TeacherError, match="no log-probabilities"):
        Teacher(backend, progress=False).score_many(["Q:"], [" a", " b"])


def test_a_partial_character_without_log_probabilities_ends_that_path_only():
    """llama.cpp omits log-probabilities when its top token is a byte of a multi-byte character (seen with
    Telugu): the labels below that path get no mass from it; the run goes on."""

    def answer(request: CompletionRequest) -> Completion:
        suffix = request.prompt.split("Q:", 1)[1]
        if suffix == " ":
            return Completion(text="\ufffd", finish_reason="length")
        return Completion(text="", top_logprobs=[{" ": math.log(0.5), " 1": math.log(0.3)}])

    [scores] = Teacher(FakeBackend(answer), progress=False).score_many(["Q:"], [" 1", " 3"])
    assert scores[0] == pytest.approx(math.log(0.3)) and scores[1] is None


def test_scoring_needs_completion_mode():
    backend = FakeBackend(echo, mode="chat")
    with pytest.raises(TeacherError, match="completion-mode"):
        Teacher(backend, progress=False).score_many(["Q:"], [" a", " b"])
