"""The openai backend against a scripted server: retries, backoff, timeouts, garbage, and keys."""

import time

import pytest

from synthdistill.errors import ConfigError, TeacherError
from synthdistill.teachers.cache import RequestCache, request_key
from synthdistill.teachers.openai import OpenAICompatibleBackend
from synthdistill.teachers.protocol import CompletionRequest
from synthdistill.teachers.teacher import Teacher
from tests.fault_server import fault_server

REQUEST = CompletionRequest(prompt="hello", max_tokens=5)


def complete(url: str, requests=(REQUEST,), **options):
    backend = OpenAICompatibleBackend(url, "m", mode="completion", backoff_s=0.05, **options)
    return Teacher(backend, progress=False).complete_many(list(requests))


def test_429_with_retry_after_is_honoured_then_succeeds():
    with fault_server([("status", 429, {"Retry-After": "0.4"}), ("status", 429, {"Retry-After": "0.4"})]) as server:
        started = time.monotonic()
        [answer] = complete(server.url, max_retries=3)
        elapsed = time.monotonic() - started
    assert answer.text == " fine" and answer.prompt_tokens == 3
    assert len(server.received) == 3
    assert elapsed >= 0.8  # waited as long as the server asked, twice


def test_500s_are_retried_with_backoff():
    with fault_server([("status", 500), ("status", 502), ("status", 503)]) as server:
        [answer] = complete(server.url, max_retries=3)
    assert answer.text == " fine" and len(server.received) == 4


def test_persistent_failure_is_reported_not_turned_into_data():
    with fault_server([("status", 500)] * 10) as server, pytest.raises(TeacherError) as info:
        complete(server.url, max_retries=2)
    assert "failed after 3 attempts: HTTP 500" in str(info.value)
    assert len(server.received) == 3


def test_hung_connection_times_out_and_is_retried():
    with fault_server([("hang", 2)]) as server:
        started = time.monotonic()
        [answer] = complete(server.url, max_retries=1, timeout_s=0.5)
        assert time.monotonic() - started < 4
    assert answer.text == " fine"


def test_hang_every_time_gives_a_timeout_error():
    with (
        fault_server([("hang", 1.5), ("hang", 1.5)]) as server,
        pytest.raises(TeacherError, match=r"no answer within 0\.3 s"),
    ):
        complete(server.url, max_retries=1, timeout_s=0.3)


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (("garbage", "{not json"), "not JSON"),
        (("json", {"choices": []}), "malformed answer"),
        (("json", {"error": "oops"}), "malformed answer"),
        (("json", {"choices": [{"text": None}]}), "malformed answer"),
    ],
)
def test_garbage_answers_never_become_data(garbage, reason):
    with fault_server([garbage] * 3) as server, pytest.raises(TeacherError, match=reason):
        complete(server.url, max_retries=2)


def test_garbage_then_good_answer_recovers():
    with fault_server([("garbage", "<html>proxy error</html>")]) as server:
        [answer] = complete(server.url, max_retries=2)
    assert answer.text == " fine"


def test_client_errors_are_not_retried():
    with fault_server([("status", 400), ("ok",)]) as server, pytest.raises(TeacherError, match="HTTP 400"):
        complete(server.url, max_retries=5)
    assert len(server.received) == 1


def test_server_down_is_a_clear_error():
    with fault_server([]) as server:
        url = server.url
    with pytest.raises(TeacherError, match="connection failed"):
        complete(url, max_retries=1)


def test_api_key_from_environment_is_sent_and_never_shown(monkeypatch):
    monkeypatch.setenv("SD_TEST_KEY", "sk-secret-123")
    with fault_server([("status", 401)]) as server:
        backend = OpenAICompatibleBackend(server.url, "m", mode="completion", api_key_env="SD_TEST_KEY")
        with pytest.raises(TeacherError) as info:
            Teacher(backend, progress=False).complete_many([REQUEST])
    assert server.headers[0]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in str(info.value) and "sk-secret" not in repr(backend)


def test_missing_key_variable_is_a_config_error(monkeypatch):
    monkeypatch.delenv("SD_MISSING_KEY", raising=False)
    with pytest.raises(ConfigError, match="SD_MISSING_KEY is not set"):
        OpenAICompatibleBackend("http://127.0.0.1:1/v1", "m", api_key_env="SD_MISSING_KEY")


def test_chat_payload_and_both_logprob_shapes():
    chat_body = {
        "choices": [
            {
                "message": {"content": "sports"},
                "finish_reason": "stop",
                "logprobs": {
                    "content": [
                        {"token": "sports", "logprob": -0.1, "top_logprobs": [{"token": "sports", "logprob": -0.1}]}
                    ]
                },
            }
        ],
    }
    legacy_body = {"choices": [{"text": " a", "logprobs": {"top_logprobs": [{" a": -0.5, " b": -1.5}]}}]}
    with fault_server([("json", chat_body)]) as server:
        backend = OpenAICompatibleBackend(server.url, "m", mode="chat")
        request = CompletionRequest(messages=(("user", "hi"),), top_logprobs=5, seed=3)
        [answer] = Teacher(backend, progress=False).complete_many([request])
    assert answer.text == "sports" and answer.top_logprobs == [{"sports": -0.1}]
    sent = server.received[0]
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 5 and sent["seed"] == 3
    with fault_server([("json", legacy_body)]) as server:
        [answer] = complete(server.url, [CompletionRequest(prompt="p", top_logprobs=2)])
    assert answer.top_logprobs == [{" a": -0.5, " b": -1.5}]
    assert server.received[0]["logprobs"] == 2


def test_non_ascii_prompts_and_half_characters_in_answers_survive_the_wire_and_the_cache(tmp_path):
    """Payloads and answers go through orjson; a lone surrogate (half an emoji, as some servers send for a
    partial token) is valid JSON that orjson refuses, and must still be read and cached, not retried as garbage."""
    half_emoji = "\ud83d"
    body = {
        "choices": [{"text": "ఆట", "logprobs": {"top_logprobs": [{half_emoji: -0.7, " ఆ": -1.2}]}}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 1},
    }
    request = CompletionRequest(prompt="Brawddeg Gymraeg: ŵ ŷ — తెలుగు", top_logprobs=2)
    with fault_server([("json", body)]) as server:
        backend = OpenAICompatibleBackend(server.url, "m", mode="completion", max_retries=0)
        teacher = Teacher(backend, RequestCache(tmp_path / "cache.sqlite"), progress=False)
        [answer] = teacher.complete_many([request])
        teacher.close()
    assert server.received[0]["prompt"] == request.prompt
    assert answer.text == "ఆట" and answer.top_logprobs == [{half_emoji: -0.7, " ఆ": -1.2}]
    reopened = RequestCache(tmp_path / "cache.sqlite")
    assert reopened.get(request_key("m", request)) == answer
    reopened.close()


def test_the_served_model_and_fingerprint_are_kept_and_survive_the_cache(tmp_path):
    """What a remote server says about itself is provenance: kept on the answer and in the request cache."""
    from synthdistill.teachers.openai import parse_completion
    from synthdistill.teachers.protocol import Completion

    body = {"model": "llama-3-70b-0601", "system_fingerprint": "fp_44709d6fcb", "choices": [{"text": " hi"}]}
    answer = parse_completion(body, "completion")
    assert (answer.served_model, answer.fingerprint) == ("llama-3-70b-0601", "fp_44709d6fcb")
    assert Completion.from_dict(answer.to_dict()) == answer
    bare = parse_completion({"choices": [{"text": " hi"}], "system_fingerprint": None}, "completion")
    assert bare.served_model is None and bare.fingerprint is None
    cache = RequestCache(tmp_path / "cache.sqlite")
    cache.put(request_key("m", REQUEST), "m", REQUEST, answer)
    assert cache.get(request_key("m", REQUEST)) == answer
    cache.close()
    assert Completion.from_dict({"text": "an answer cached before fingerprints were kept"}).fingerprint is None


# ------------------------------------------------------------------------------------- the server's tokenizer


def count_tokens(url: str, texts: list[str], **options):
    backend = OpenAICompatibleBackend(url, "m", mode="completion", backoff_s=0.05, **options)
    return backend, Teacher(backend, progress=False).count_tokens(texts)


def test_token_counts_come_from_the_servers_tokenize_without_special_tokens():
    with fault_server([], tokenize=[]) as server:
        _, counts = count_tokens(server.url, ["one two three", "four", "five six"])
    assert counts == [3, 1, 2]
    assert sorted(body["content"] for body in server.tokenized) == ["five six", "four", "one two three"]
    assert all(body["prompt"] == body["content"] and body["add_special_tokens"] is False for body in server.tokenized)


def test_a_server_without_a_tokenizer_is_asked_once():
    with fault_server([], tokenize=[("status", 404)] * 3) as server:
        backend, counts = count_tokens(server.url, ["a b", "c"])
        again = Teacher(backend, progress=False).count_tokens(["d e f"])
    assert counts is None and again is None and len(server.tokenized) == 1
    with fault_server([]) as server:  # no route at all reads the same
        assert count_tokens(server.url, ["a b"])[1] is None


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([("status", 500)] * 5, "failed after 3 attempts: HTTP 500"),
        ([("json", {"tokens": []})], "no tokens for a text of 7 characters"),
        ([("json", {"count": 2})], "no token list"),
        ([("status", 400)], "HTTP 400"),
        ([("words",), ("status", 400)], "HTTP 400"),  # the first text counted, a later one refused
    ],
)
def test_a_failing_tokenizer_raises_a_teacher_error_never_a_count(steps, reason):
    with fault_server([], tokenize=steps) as server, pytest.raises(TeacherError, match=reason):
        count_tokens(server.url, ["one two", "three", "four five"], max_retries=2)


def test_transient_tokenizer_faults_are_retried():
    with fault_server([], tokenize=[("status", 503), ("status", 500)]) as server:
        _, counts = count_tokens(server.url, ["one two"], max_retries=3)
    assert counts == [2] and len(server.tokenized) == 3
