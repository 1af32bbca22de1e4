"""`serve` over real HTTP on 127.0.0.1: predictions, limits, keys, 4xx for bad requests, and a server that one
client cannot stall (long batches off the loop, a bounded queue, read timeouts)."""

import asyncio
import json
import os
import socket
import time
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from synthdistill.serve import build_app
from synthdistill.students.tfidf import TfidfStudent
from tests.conftest import POLITICS, SPORTS
from tests.web_helpers import call, free_port, running, wait_for_port

# threads start at once; tests about the process pool ask for it
THREADS = {"pool": "thread", "workers": 1}


@pytest.fixture(scope="module")
def student():
    return TfidfStudent().fit(SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6)


def test_predictions_match_the_student(student):
    texts = ["The team won the cup final.", "The parliament passed the law on elections."]
    with running(build_app(student, **THREADS)) as url:
        status, body = call(url, data=json.dumps({"texts": texts}))
        single_status, single = call(url, data=json.dumps({"text": texts[0]}))
        health_status, health = call(url, "GET", "/health")
    assert status == 200 and [p["label"] for p in body["predictions"]] == student.predict(texts)
    expected = student.predict_proba(texts)[0]
    assert body["predictions"][0]["probabilities"]["sports"] == pytest.approx(expected[student.classes.index("sports")])
    assert single_status == 200 and single["predictions"][0] == body["predictions"][0]
    assert health_status == 200 and health["classes"] == ["politics", "sports"]


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ("{not json", 400, "not JSON"),
        ('["a list"]', 422, "expected"),
        ('{"texts": []}', 422, "non-empty"),
        ('{"texts": [1, 2]}', 422, "strings"),
        ('{"texts": ["a", "b", "c", "d"]}', 413, "at most 3"),
        (json.dumps({"text": "x" * 200}), 413, "limited to 100"),
        (json.dumps({"text": "y" * 5000}), 413, "larger than"),
    ],
)
def test_bad_requests_get_4xx_and_the_server_lives_on(student, data, status, message):
    app = build_app(student, max_batch=3, max_body_bytes=2000, max_text_chars=100, **THREADS)
    with running(app) as url:
        got_status, body = call(url, data=data, headers={"Content-Type": "application/json"})
        after, _ = call(url, data=json.dumps({"text": "The match."}))
    assert got_status == status
    assert message in (body["error"] if isinstance(body, dict) else body)
    assert after == 200


def test_api_key(student):
    with running(build_app(student, api_key="s3cret", **THREADS)) as url:
        missing, _ = call(url, data='{"text": "a"}')
        wrong, _ = call(url, data='{"text": "a"}', headers={"Authorization": "Bearer nope"})
        bearer, _ = call(url, data='{"text": "a"}', headers={"Authorization": "Bearer s3cret"})
        header, _ = call(url, data='{"text": "a"}', headers={"X-API-Key": "s3cret"})
        health, _ = call(url, "GET", "/health")
        get_predict, _ = call(url, "GET", "/predict", headers={"X-API-Key": "s3cret"})
    assert (missing, wrong, bearer, header, health, get_predict) == (401, 401, 200, 200, 200, 405)


class SilentStudent:
    """A student that names no label (an icl or lora student whose answer was not a label): all-zero rows."""

    def __init__(self):
        self.classes = ["sports", "politics"]

    def predict_proba(self, texts):
        return np.zeros((len(texts), 2))


def test_the_try_page_predicts_one_text_and_a_batch_in_chunks(student):
    from urllib.parse import urlsplit

    from playwright.sync_api import expect

    from tests.web_helpers import chromium

    errors, hosts = [], set()
    with running(build_app(student, max_batch=2, **THREADS)) as url, chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
        page.goto(url + "/")
        expect(page.locator("#about")).to_contain_text("Labels: politics, sports")
        page.fill("#text", "The striker scored twice and the team won the cup.")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#label")).to_have_text("sports")
        expect(page.locator("#answer .row")).to_have_count(2)  # every label's probability
        lines = [POLITICS[0], "<script>window.pwned = 1</script> The team won the match.", SPORTS[1]]
        page.fill("#batch", "\n".join(lines) + "\n\n")
        page.click("#predict-batch")
        expect(page.locator("#batch-answer tbody tr")).to_have_count(3)  # 3 lines in two requests of at most 2
        labels = page.locator("#batch-answer td.label").all_inner_texts()
        texts = page.locator("#batch-answer td.text").all_inner_texts()
        pwned = page.evaluate("window.pwned")
    assert labels == ["politics", "sports", "sports"] and texts == lines and pwned is None
    assert errors == [] and hosts == {urlsplit(url).netloc}


def test_the_try_page_asks_for_the_key_and_shows_a_student_that_names_no_label(student):
    from playwright.sync_api import expect

    from tests.web_helpers import chromium

    with chromium() as browser:
        with running(build_app(student, api_key="s3cret", **THREADS)) as url:
            page = browser.new_page()
            page.goto(url + "/")  # the page itself is open, like /health; its requests need the key
            page.fill("#text", "The parliament passed the law.")
            page.click("#predict")
            expect(page.locator("#error")).to_contain_text("needs its API key")
            expect(page.locator("#key-box")).to_be_visible()
            page.fill("#key", "s3cret")
            page.keyboard.press("Enter")
            page.click("#predict")
            expect(page.locator("#label")).to_have_text("politics")
        with running(build_app(SilentStudent(), **THREADS)) as url:  # type: ignore[arg-type]
            page = browser.new_page()
            page.goto(url + "/")
            page.fill("#text", "Anything at all.")
            page.click("#predict")
            expect(page.locator("#label")).to_have_text("(no label)")


def test_cli_serves_on_loopback_and_needs_its_key_variable(student, tmp_path, monkeypatch):
    import subprocess
    import sys

    student.save(tmp_path / "model")
    port = free_port()
    command = [sys.executable, "-m", "synthdistill", "serve", str(tmp_path / "model"), "--port", str(port)]
    missing = subprocess.run([*command, "--api-key-env", "SD_NO_SUCH_KEY"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "SD_NO_SUCH_KEY is not set" in missing.stderr
    pasted = subprocess.run([*command, "--api-key-env", "sk-live-9fQ2xL7"], capture_output=True, text=True, timeout=60)
    assert pasted.returncode == 2 and "not a key" in pasted.stderr and "9fQ2xL7" not in pasted.stderr
    no_workers = subprocess.run([*command, "--workers", "0"], capture_output=True, text=True, timeout=60)
    assert no_workers.returncode == 2 and "argument --workers: 0 is out of range: give 1 or more" in no_workers.stderr
    # the process pool (the default), its workers loading the student from its folder
    command += ["--workers", "1", "--max-queue", "2", "--read-timeout-s", "5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process, 30)
        status, body = call(f"http://127.0.0.1:{port}", data=json.dumps({"text": "The team won the match."}))
        assert status == 200 and body["predictions"][0]["label"] == "sports"
        long_texts = ["The team won the match. " * 100, "The parliament passed the law. " * 100]
        status, body = call(f"http://127.0.0.1:{port}", data=json.dumps({"texts": long_texts}))
        assert status == 200 and [p["label"] for p in body["predictions"]] == ["sports", "politics"]
        if sys.platform == "linux":  # a server killed outright: its pool worker must notice and exit by itself
            workers = pool_workers(process.pid)
            assert len(workers) == 1
            process.kill()
            process.wait(10)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
                time.sleep(0.1)
            assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a pool worker outlived its server"
    finally:
        process.kill()
        process.wait(10)


def pool_workers(parent: int) -> list[int]:
    """The process pool's workers of `parent`, from /proc (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


class SlowStudent:
    """Sleeps in proportion to the characters it is given, like a slow model on a long batch: 64 texts of
    10,000 characters take `seconds`; a few words take nothing (so the pool's warm-up is instant)."""

    def __init__(self, seconds: float = 1.5):
        self.classes = ["politics", "sports"]
        self.seconds = seconds

    def predict_proba(self, texts):
        if any(t.startswith("die") for t in texts):
            os._exit(1)  # a worker killed mid-prediction (for memory, say)
        time.sleep(self.seconds * sum(map(len, texts)) / 640_000)
        return np.full((len(texts), 2), 0.5)


LONG_BATCH = json.dumps({"texts": ["word " * 2000] * 64})


def test_a_long_batch_does_not_stall_health_checks_or_short_texts():
    async def go(url: str) -> tuple[list[float], int, bool]:
        async with aiohttp.ClientSession() as session:
            long = asyncio.create_task(session.post(url + "/predict", data=LONG_BATCH))
            await asyncio.sleep(0.3)  # the long batch is being served
            seconds = []
            for i in range(8):
                started = time.perf_counter()
                if i % 2:
                    async with session.post(url + "/predict", data='{"text": "The match."}') as response:
                        assert response.status == 200
                else:
                    async with session.get(url + "/health") as response:
                        assert response.status == 200
                seconds.append(time.perf_counter() - started)
            overlapped = not long.done()
            async with await long as response:
                return seconds, response.status, overlapped

    with running(build_app(SlowStudent(), workers=1)) as url:  # the default: a process pool
        seconds, long_status, overlapped = asyncio.run(go(url))
    assert long_status == 200 and overlapped
    assert max(seconds) < 0.2, seconds


def test_a_full_queue_answers_503_with_retry_after_at_once():
    async def go(url: str):
        async with aiohttp.ClientSession() as session:
            admitted = [asyncio.create_task(session.post(url + "/predict", data=LONG_BATCH)) for _ in range(2)]
            await asyncio.sleep(0.3)  # one runs, one waits: the queue (of 1) is full
            started = time.perf_counter()
            async with session.post(url + "/predict", data=LONG_BATCH) as response:
                refused = (response.status, response.headers.get("Retry-After"), await response.json())
            seconds = time.perf_counter() - started
            statuses = []
            for task in admitted:
                async with await task as response:
                    statuses.append(response.status)
            return refused, seconds, statuses

    with running(build_app(SlowStudent(seconds=0.6), workers=1, max_queue=1, pool="thread")) as url:
        (status, retry_after, body), seconds, admitted = asyncio.run(go(url))
    assert (status, retry_after) == (503, "1") and "retry later" in body["error"]
    assert seconds < 0.3 and admitted == [200, 200]


def test_a_dead_worker_is_a_503_and_the_pool_restarts():
    with running(build_app(SlowStudent(), workers=1)) as url:
        died, body = call(url, data=json.dumps({"texts": ["die " * 1000]}))
        after, _ = call(url, data=json.dumps({"texts": ["live " * 1000]}))
    assert died == 503 and "worker died" in body["error"]
    assert after == 200


@pytest.mark.parametrize("data", ["[" * 100_000 + "]" * 100_000, '{"texts": ' + "[" * 100_000 + "]" * 100_000 + "}"])
def test_deeply_nested_json_is_a_400(student, data):
    with running(build_app(student, **THREADS)) as url:
        status, body = call(url, data=data)
        after, _ = call(url, data=json.dumps({"text": "The match."}))
    assert status == 400 and "nested too deeply" in body["error"]
    assert after == 200


def seconds_until_answered_or_closed(url: str, sent: bytes, trickle: bytes = b"") -> tuple[float, bytes]:
    """Send `sent`, then `trickle` one byte every 0.1 s (a slowloris), until the server answers or closes."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=0.1) as client:
        started = time.perf_counter()
        client.sendall(sent)
        received = b""
        while time.perf_counter() - started < 5:
            try:
                if trickle:
                    client.sendall(trickle[:1])
                    trickle = trickle[1:]
                chunk = client.recv(4096)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            received += chunk
            if not chunk or b"\r\n\r\n" in received:
                break
        return time.perf_counter() - started, received


@pytest.mark.parametrize("trickle", [b"", b"X-Slow: " + b"a" * 100], ids=["stops", "trickles"])
def test_slow_request_headers_are_cut_off(student, trickle):
    with running(build_app(student, read_timeout_s=0.5, **THREADS)) as url:
        seconds, received = seconds_until_answered_or_closed(url, b"POST /predict HTTP/1.1\r\nHost: x\r\n", trickle)
        after, _ = call(url, data=json.dumps({"text": "The match."}))
    assert 0.4 < seconds < 1.5 and received == b""
    assert after == 200


@pytest.mark.parametrize("trickle", [b"", b" " * 100], ids=["stops", "trickles"])
def test_a_slow_body_is_a_408(student, trickle):
    headers = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    with running(build_app(student, read_timeout_s=0.5, **THREADS)) as url:
        seconds, received = seconds_until_answered_or_closed(url, headers + b'{"text": ', trickle)
        after, _ = call(url, data=json.dumps({"text": "The match."}))
    assert 0.4 < seconds < 1.5 and received.startswith(b"HTTP/1.1 408")
    assert after == 200


def test_cli_port_0_announces_the_port_it_really_listens_on_and_bad_numbers_are_one_line(student, tmp_path):
    import subprocess
    import sys

    student.save(tmp_path / "model")
    command = [sys.executable, "-m", "synthdistill", "serve", str(tmp_path / "model"), "--pool", "thread"]
    for bad, message in ((["--port", "99999"], "argument --port: 99999 is out of range: give from 0 to 65535"),
                         (["--max-batch", "0"], "argument --max-batch: 0 is out of range: give 1 or more"),
                         (["--port", "http"], "argument --port: 'http' is not a whole number")):  # fmt: skip
        refused = subprocess.run([*command, *bad], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr
    process = subprocess.Popen([*command, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        port = int(url.rsplit(":", 1)[1])
        assert url == f"http://127.0.0.1:{port}" and port > 0
        status, body = call(url, data=json.dumps({"text": "The team won the match."}))
        assert status == 200 and body["predictions"][0]["label"] == "sports"
    finally:
        process.kill()
        process.wait(10)
