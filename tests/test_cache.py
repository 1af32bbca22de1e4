from synthdistill.teachers.cache import RequestCache, request_key
from synthdistill.teachers.protocol import Completion, CompletionRequest


def test_key_depends_on_what_is_sent():
    base = CompletionRequest(prompt="p", max_tokens=10, temperature=0.5, seed=1)
    assert request_key("m", base) == request_key(
        "m", CompletionRequest(prompt="p", max_tokens=10, temperature=0.5, seed=1)
    )
    others = [
        ("m2", base),
        ("m", CompletionRequest(prompt="q", max_tokens=10, temperature=0.5, seed=1)),
        ("m", CompletionRequest(prompt="p", max_tokens=11, temperature=0.5, seed=1)),
        ("m", CompletionRequest(prompt="p", max_tokens=10, temperature=0.6, seed=1)),
        ("m", CompletionRequest(prompt="p", max_tokens=10, temperature=0.5, seed=2)),  # another sample index
    ]
    keys = {request_key(model, request) for model, request in others}
    assert len(keys) == len(others) and request_key("m", base) not in keys


def test_answers_survive_reopening(tmp_path):
    request = CompletionRequest(prompt="p")
    answer = Completion(text="hello", finish_reason="stop", top_logprobs=[{" a": -0.1}], prompt_tokens=3)
    cache = RequestCache(tmp_path / "cache.sqlite")
    key = request_key("m", request)
    assert cache.get(key) is None
    cache.put(key, "m", request, answer)
    cache.close()
    reopened = RequestCache(tmp_path / "cache.sqlite")
    assert reopened.get(key) == answer
    assert len(reopened) == 1
