"""An OpenAI-compatible server that answers at once, in its own process, for overhead benchmarks."""

from __future__ import annotations

import multiprocessing
import socket

ANSWER = {
    "choices": [{"text": " A quick sentence about the topic.", "index": 0, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 8},
}


def _serve(port: int) -> None:
    from aiohttp import web

    async def completions(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start() -> tuple[multiprocessing.Process, str]:
    """Start the server; return the process and its base URL once it accepts connections."""
    port = free_port()
    process = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    process.start()
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            import time

            time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}/v1"
