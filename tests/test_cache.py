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


def test_answers_wait_in_memory_briefly_and_are_visible_meanwhile(tmp_path):
    cache = RequestCache(tmp_path / "c.sqlite", flush_every=3, flush_after_s=60)  # no timed flush in this test
    requests = [CompletionRequest(prompt="p", seed=i) for i in range(4)]
    keys = [request_key("m", r) for r in requests]
    for key, request in zip(keys[:2], requests[:2], strict=True):
        cache.put(key, "m", request, Completion(text=key[:4]))
    other = RequestCache(tmp_path / "c.sqlite")
    assert other.get(keys[0]) is None  # not committed yet
    assert cache.get(keys[0]).text == keys[0][:4]  # but this cache sees it
    cache.put(keys[2], "m", requests[2], Completion(text="x"))  # the third answer commits all three
    assert set(other.get_many(keys)) == set(keys[:3])
    cache.put(keys[3], "m", requests[3], Completion(text="y"))
    cache.close()  # closing commits the rest
    assert other.get(keys[3]).text == "y"


def test_a_background_thread_commits_waiting_answers(tmp_path):
    import time

    cache = RequestCache(tmp_path / "c.sqlite", flush_after_s=0.02)
    request = CompletionRequest(prompt="p")
    cache.put(request_key("m", request), "m", request, Completion(text="x"))
    other = RequestCache(tmp_path / "c.sqlite")
    deadline = time.monotonic() + 5
    while other.get(request_key("m", request)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert other.get(request_key("m", request)).text == "x"
    cache.close()


def test_a_put_that_finds_the_batch_due_commits_it_at_once(tmp_path):
    now = [0.0]
    # the background thread sleeps a real minute: only the puts can commit in this test
    cache = RequestCache(tmp_path / "c.sqlite", flush_after_s=60, clock=lambda: now[0])
    requests = [CompletionRequest(prompt="p", seed=i) for i in range(3)]
    keys = [request_key("m", r) for r in requests]
    other = RequestCache(tmp_path / "c.sqlite")
    cache.put(keys[0], "m", requests[0], Completion(text="a"))
    now[0] = 59.0
    cache.put(keys[1], "m", requests[1], Completion(text="b"))
    assert other.get_many(keys) == {}  # the oldest has waited 59 s of 60
    now[0] = 60.0
    cache.put(keys[2], "m", requests[2], Completion(text="c"))
    assert [other.get(key).text for key in keys] == ["a", "b", "c"]  # committed by that put, not the thread
    cache.close()
    other.close()
