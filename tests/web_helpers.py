"""What the tests of the project's web servers share: an aiohttp app served on a free loopback port in a thread,
one HTTP call, and headless Chromium (Playwright) for the pages."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def running(app: web.Application) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread of its own; yield its base URL."""
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
    """(status, body): the body parsed when it is a JSON object, else the text."""

    async def go():
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url + path, data=data, headers=headers or {}) as response,
        ):
            return response.status, await response.text()

    status, text = asyncio.run(go())
    return status, json.loads(text) if text.startswith(("{", "[")) else text


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser; the test fails (not skips) when Playwright or Chromium is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('playwright is missing: pip install playwright (or pip install -e ".[dev]")')
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> bool:
    """Wait until a server process listens on `port`; False when it exited or the time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False
