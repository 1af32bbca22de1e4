"""An OpenAI-compatible server that answers at once, in its own process, for overhead benchmarks."""

from __future__ import annotations

import multiprocessing
import random
import socket
import zlib

ANSWER = {
    "choices": [{"text": " A quick sentence about the topic.", "index": 0, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 8},
}


# a vocabulary for varied answers: every request gets its own sentence, as a real teacher's would
_WORDS = [
    f"{syllable}{vowel}{end}" for syllable in "bdfgklmnprstvz" for vowel in "aeiou" for end in ("", "n", "r", "s")
]


def varied_answer(body: bytes) -> dict:
    """Eight to sixteen words chosen by a hash of the request body: the same request, the same answer."""
    rng = random.Random(zlib.crc32(body))
    text = " " + " ".join(rng.choices(_WORDS, k=rng.randint(8, 16))).capitalize() + "."
    return {**ANSWER, "choices": [{**ANSWER["choices"][0], "text": text}]}


def _serve(port: int, varied: bool) -> None:
    from aiohttp import web

    answered = 0

    async def completions(request: web.Request) -> web.Response:
        nonlocal answered
        body = await request.read()
        answered += 1
        return web.json_response(varied_answer(body) if varied else ANSWER)

    async def count(request: web.Request) -> web.Response:
        return web.json_response({"answered": answered})

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    app.router.add_get("/count", count)  # how many requests it answered: what a client paid for
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(*, varied: bool = False) -> tuple[multiprocessing.Process, str]:
    """Start the server; return the process and its base URL once it accepts connections. `varied`: a
    different sentence per request (for jobs whose filters would drop identical answers)."""
    port = free_port()
    process = multiprocessing.Process(target=_serve, args=(port, varied), daemon=True)
    process.start()
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            import time

            time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}/v1"
