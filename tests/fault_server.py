"""A scripted OpenAI-like server on 127.0.0.1 for fault injection: each request takes the next scripted step."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

OK_BODY = {
    "choices": [{"text": " fine", "index": 0, "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1},
}


class FaultServer:
    """Steps: ("ok",), ("status", code, headers), ("hang", seconds), ("garbage", raw_text), ("json", body),
    ("echo", delay): a sample naming the prompt's label."""

    def __init__(self, steps: list[tuple], tokenize_steps: list[tuple] | None = None):
        self.steps = list(steps)
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.url = ""
        self.tokenize_steps = list(tokenize_steps or [])
        self.tokenized: list[dict] = []  # bodies that reached /tokenize

    async def tokenize(self, request: web.Request) -> web.StreamResponse:
        """/tokenize at the root, as llama.cpp serves it; ("words",): one token per word of `content`,
        ("status", code), ("json", body)."""
        body = await request.json()
        self.tokenized.append(body)
        step = self.tokenize_steps.pop(0) if self.tokenize_steps else ("words",)
        if step[0] == "status":
            return web.Response(status=step[1], text="scripted failure")
        if step[0] == "json":
            return web.json_response(step[1])
        return web.json_response({"tokens": list(range(len(body.get("content", "").split())))})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(body)
        self.headers.append(dict(request.headers))
        step = self.steps.pop(0) if self.steps else ("ok",)
        kind = step[0]
        if kind == "status":
            return web.Response(status=step[1], headers=step[2] if len(step) > 2 else None, text="scripted failure")
        if kind == "hang":
            await asyncio.sleep(step[1])
            return web.json_response(OK_BODY)
        if kind == "garbage":
            return web.Response(text=step[1], content_type="application/json")
        if kind == "json":
            return web.json_response(step[1])
        if kind == "echo":  # a distinct sample naming the quoted label of the prompt, after an optional delay
            if len(step) > 1:
                await asyncio.sleep(step[1])
            label = re.search(r'"([^"]+)"', body.get("prompt", "")).group(1)
            text = f" A fine sentence about {label}, number {body.get('seed')}."
            return web.json_response({"choices": [{"text": text, "finish_reason": "stop"}]})
        return web.json_response(OK_BODY)


@contextmanager
def fault_server(steps: list[tuple], tokenize: list[tuple] | None = None) -> Iterator[FaultServer]:
    """`tokenize`: steps of a /tokenize endpoint; without them the server has none (404)."""
    server = FaultServer(steps, tokenize)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner_box: dict = {}

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/v1/completions", server.handle)
        app.router.add_post("/v1/chat/completions", server.handle)
        if tokenize is not None:
            app.router.add_post("/tokenize", server.tokenize)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        server.url = f"http://127.0.0.1:{port}/v1"
        runner_box["runner"] = runner
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(runner_box["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def dumps(body: dict) -> str:
    return json.dumps(body)
