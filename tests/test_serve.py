"""`serve` over real HTTP on 127.0.0.1: predictions, limits, keys, and 4xx for bad requests."""

import asyncio
import json
import threading
from contextlib import contextmanager

import aiohttp
import pytest
from aiohttp import web

from synthdistill.serve import build_app
from synthdistill.students.tfidf import TfidfStudent
from tests.conftest import POLITICS, SPORTS


@contextmanager
def running(app: web.Application):
    loop = asyncio.new_event_loop()
    box: dict = {}
    ready = threading.Event()

    async def start() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["runner"], box["url"] = runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield box["url"]
    finally:
        asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def call(url: str, method: str = "POST", path: str = "/predict", data: bytes | str | None = None, headers=None):
    async def go():
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url + path, data=data, headers=headers or {}) as response,
        ):
            return response.status, await response.text()

    status, text = asyncio.run(go())
    return status, json.loads(text) if text.startswith("{") else text


@pytest.fixture(scope="module")
def student():
    return TfidfStudent().fit(SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6)


def test_predictions_match_the_student(student):
    texts = ["The team won the cup final.", "The parliament passed the law on elections."]
    with running(build_app(student)) as url:
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
    app = build_app(student, max_batch=3, max_body_bytes=2000, max_text_chars=100)
    with running(app) as url:
        got_status, body = call(url, data=data, headers={"Content-Type": "application/json"})
        after, _ = call(url, data=json.dumps({"text": "The match."}))
    assert got_status == status
    assert message in (body["error"] if isinstance(body, dict) else body)
    assert after == 200


def test_api_key(student):
    with running(build_app(student, api_key="s3cret")) as url:
        missing, _ = call(url, data='{"text": "a"}')
        wrong, _ = call(url, data='{"text": "a"}', headers={"Authorization": "Bearer nope"})
        bearer, _ = call(url, data='{"text": "a"}', headers={"Authorization": "Bearer s3cret"})
        header, _ = call(url, data='{"text": "a"}', headers={"X-API-Key": "s3cret"})
        health, _ = call(url, "GET", "/health")
        get_predict, _ = call(url, "GET", "/predict", headers={"X-API-Key": "s3cret"})
    assert (missing, wrong, bearer, header, health, get_predict) == (401, 401, 200, 200, 200, 405)


def test_cli_serves_on_loopback_and_needs_its_key_variable(student, tmp_path, monkeypatch):
    import socket
    import subprocess
    import sys
    import time

    student.save(tmp_path / "model")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "synthdistill", "serve", str(tmp_path / "model"), "--port", str(port)]
    missing = subprocess.run([*command, "--api-key-env", "SD_NO_SUCH_KEY"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "SD_NO_SUCH_KEY is not set" in missing.stderr
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        status, body = call(f"http://127.0.0.1:{port}", data=json.dumps({"text": "The team won the match."}))
        assert status == 200 and body["predictions"][0]["label"] == "sports"
    finally:
        process.terminate()
        process.wait(10)
