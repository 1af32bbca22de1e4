"""`synthdistill serve`: a small HTTP API for any saved student.

Binds to 127.0.0.1 unless told otherwise, can require an API key (read from an environment variable), caps
body size and batch length, and answers malformed requests with a 4xx, never a crash.

Limits, so that one client can neither stall nor hold the others:
- Predictions never run on the event loop, which only parses and answers. A request whose body is over
  `small_request_bytes` (default 2,048) goes to a pool of `workers` (default 2) processes, which run at a lower
  CPU priority so that the loop wins the CPU, and exit if the server dies. `pool="thread"` uses threads instead:
  enough for students that release the GIL, not for the TF-IDF one (bench/results/serve_load.md).
- At most `max_queue` (default 8) long requests wait for a worker; beyond that the answer is 503 with
  Retry-After, at once, before the body is read. Shorter requests (a sentence or a few) run on a thread of
  their own, never behind a long batch; at most `max_short_queue` (default 64) wait there.
- A connection has `read_timeout_s` (default 10 s) to send its request headers (it is closed otherwise), and
  as long again for the body (408). Idle keep-alive connections close after it too, and a body the server did
  not read (a 4xx, a 503) is drained for at most as long.
- JSON nested too deeply to parse is a 400.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Literal

import numpy as np
from aiohttp import web

from synthdistill.errors import ConfigError, StudentError
from synthdistill.http_servers import api_key_from_env, api_key_middleware, page_response, run_server
from synthdistill.students.base import Student, probability_rows
from synthdistill.students.registry import load_student
from synthdistill.worker_processes import exit_with_parent, limit_threads, lower_priority

PoolKind = Literal["process", "thread"]
POOL_KINDS: tuple[PoolKind, ...] = ("process", "thread")
RETRY_AFTER_S = 1

_worker_student: Student | None = None


def _start_worker(source: Student | str, threads: int, parent: int) -> None:
    """A pool process's initializer. Lower priority, so that the server's event loop (health checks, short
    texts) wins the CPU over long batches; `threads` native threads each (OpenMP, BLAS), set before any library
    starts them, so that the workers' thread teams do not overrun the cores; an exit when the server is gone
    (killed, say), rather than minutes more on a batch nobody will read; then the student."""
    global _worker_student
    lower_priority()
    limit_threads(threads, keep_set=True)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    exit_with_parent(parent)
    _worker_student = load_student(source) if isinstance(source, str) else source


def _worker_predict(texts: list[str]) -> np.ndarray:
    assert _worker_student is not None, "the pool's initializer sets the student"
    return _worker_student.predict_proba(texts)


class PoolRestartingError(Exception):
    """A pool process died mid-prediction and the pool is being replaced: retry later."""


class PredictionLane:
    """An executor that holds at most `capacity` predictions (running and waiting) and refuses the rest at
    once, so that a burst of long batches turns into quick 503s rather than minutes of queueing."""

    def __init__(
        self, make_executor: Callable[[], Executor], predict: Callable[[list[str]], np.ndarray], capacity: int
    ):
        self._make_executor = make_executor
        self._predict = predict
        self._slots = threading.BoundedSemaphore(capacity)
        self._executor: Executor | None = None

    async def start(self, warm_up: int) -> None:
        """Start the executor and run `warm_up` one-text predictions, so that workers have loaded the student
        before the first request; a student the workers cannot load is an error here, not a 503 later."""
        self._executor = self._make_executor()
        futures = [self._executor.submit(self._predict, ["warm up"]) for _ in range(warm_up)]
        try:
            await asyncio.gather(*map(asyncio.wrap_future, futures))
        except BrokenProcessPool as err:
            raise StudentError(
                f"the prediction workers could not start (their error is printed above): {err}"
            ) from None

    def close(self) -> None:
        """Waiting predictions are dropped and pool processes stopped, since nobody will read their answers (a
        long batch can take minutes for a slow student); running threads cannot be stopped and finish."""
        if self._executor is None:
            return
        # ProcessPoolExecutor has no public way to stop its processes before Python 3.14's terminate_workers
        processes = list((getattr(self._executor, "_processes", None) or {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:  # reaped, so their semaphores are released before the interpreter exits
            process.join(timeout=5)
        self._executor = None

    def reserve(self) -> bool:
        """Take a place for one prediction (before its body is read, so that a full lane costs no reading or
        parsing); False when the lane is full."""
        return self._slots.acquire(blocking=False)

    def unreserve(self) -> None:
        self._slots.release()

    async def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Predict in a place taken with `reserve`; it is given back when the work ends, even if the client
        has gone by then."""
        executor = self._executor
        assert executor is not None, "the app's startup starts the lanes"
        try:
            future = executor.submit(self._predict, texts)
        except BaseException:
            self.unreserve()
            raise
        future.add_done_callback(lambda _: self.unreserve())
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            # a worker died (killed for memory, say): every later call would fail, so start a fresh pool
            if self._executor is executor:
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._make_executor()
            raise PoolRestartingError("a prediction worker died and the pool is restarting") from None


def build_app(
    student: Student,
    *,
    api_key: str | None = None,
    max_batch: int = 64,
    max_body_bytes: int = 1_000_000,
    max_text_chars: int = 10_000,
    workers: int = 2,
    pool: PoolKind = "process",
    max_queue: int = 8,
    read_timeout_s: float = 10.0,
    small_request_bytes: int = 2_048,
    max_short_queue: int = 64,
    student_dir: str | Path | None = None,
) -> web.Application:
    """`student_dir`: where `student` was loaded from; process workers load it from there instead of
    receiving a pickled copy."""
    if pool not in POOL_KINDS:
        raise ConfigError(f"pool must be one of {', '.join(POOL_KINDS)}, not {pool!r}")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, not {workers}")
    for name, value in (("max_queue", max_queue), ("max_short_queue", max_short_queue)):
        if value < 0:
            raise ConfigError(f"{name} must be 0 or more, not {value}")
    if read_timeout_s <= 0:
        raise ConfigError(f"read_timeout_s must be positive, not {read_timeout_s}")

    if pool == "process":
        source: Student | str = str(student_dir) if student_dir is not None else student
        threads = max(1, (os.cpu_count() or 1) // workers)
        long_lane = PredictionLane(
            lambda: ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(source, threads, os.getpid()),
            ),
            _worker_predict,
            workers + max_queue,
        )
    else:
        long_lane = PredictionLane(
            lambda: ThreadPoolExecutor(workers, thread_name_prefix="predict"),
            student.predict_proba,
            workers + max_queue,
        )
    # one thread: a short prediction takes well under a millisecond for a linear student
    short_lane = PredictionLane(
        lambda: ThreadPoolExecutor(1, thread_name_prefix="predict-short"), student.predict_proba, 1 + max_short_queue
    )

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"error": message}, status=status, headers=headers)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "classes": student.classes, "max_batch": max_batch})

    async def try_page(request: web.Request) -> web.Response:
        """A page to try the student: open like /health (it holds no data); its requests carry the key."""
        return page_response("try.html", "try the student")

    async def read_texts(request: web.Request) -> list[str] | web.Response:
        """The request's texts, or the 4xx that says what is wrong with it."""
        try:
            async with asyncio.timeout(read_timeout_s):
                raw = await request.text()
        except TimeoutError:
            response = error(408, f"body not received within {read_timeout_s:g} s")
            response.force_close()
            return response
        except web.HTTPRequestEntityTooLarge:
            return error(413, f"body larger than {max_body_bytes} bytes")
        except UnicodeDecodeError:
            return error(400, "body is not JSON")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return error(400, "body is not JSON")
        except RecursionError:  # the parser recurses per level; a 1 MB body can nest far deeper than it allows
            return error(400, "JSON nested too deeply")
        if not isinstance(body, dict):
            return error(422, 'expected {"texts": [...]} or {"text": "..."}')
        texts = [body["text"]] if "text" in body else body.get("texts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return error(422, 'expected {"texts": [...]} (a non-empty list of strings) or {"text": "..."}')
        if len(texts) > max_batch:
            return error(413, f"at most {max_batch} texts per request")
        if any(len(t) > max_text_chars for t in texts):
            return error(413, f"texts are limited to {max_text_chars} characters")
        return texts

    async def predict(request: web.Request) -> web.Response:
        size = request.content_length  # None when chunked: maybe long
        lane = short_lane if size is not None and size <= small_request_bytes else long_lane
        if not lane.reserve():
            return error(503, "too many predictions waiting; retry later", {"Retry-After": str(RETRY_AFTER_S)})
        try:
            texts = await read_texts(request)
        except BaseException:
            lane.unreserve()
            raise
        if isinstance(texts, web.Response):
            lane.unreserve()
            return texts
        try:
            probabilities = await lane.predict_proba(texts)
        except PoolRestartingError as err:
            return error(503, f"{err}; retry later", {"Retry-After": str(RETRY_AFTER_S)})
        return web.json_response({"predictions": probability_rows(student.classes, probabilities)})

    async def lanes(app: web.Application) -> AsyncIterator[None]:
        """Workers start, and load the student, before the port opens."""
        try:
            await long_lane.start(warm_up=workers)
            await short_lane.start(warm_up=1)
            yield
        finally:
            for lane in (long_lane, short_lane):
                lane.close()

    # keepalive_timeout also bounds the wait for a request's headers (aiohttp arms it when a connection opens
    # and after each response); lingering_time bounds draining a body the handler did not read
    handler_args = {"keepalive_timeout": read_timeout_s, "lingering_time": read_timeout_s}
    app = web.Application(
        middlewares=[api_key_middleware(api_key, ["/health", "/"])],
        client_max_size=max_body_bytes,
        handler_args=handler_args,
    )
    app.cleanup_ctx.append(lanes)
    app.router.add_get("/", try_page)
    app.router.add_get("/health", health)
    app.router.add_post("/predict", predict)
    return app


def serve(
    student_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key_env: str | None = None,
    max_batch: int = 64,
    max_body_bytes: int = 1_000_000,
    workers: int = 2,
    pool: PoolKind = "process",
    max_queue: int = 8,
    read_timeout_s: float = 10.0,
) -> None:
    api_key = api_key_from_env(api_key_env)
    # OpenMP threads that spin while waiting (the default) take turns with each other on cores that the event
    # loop and the pool share: a short text through e5-small took 1.7 s instead of 16 ms on a busy 2-core machine
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    student = load_student(student_dir)
    app = build_app(
        student,
        api_key=api_key,
        max_batch=max_batch,
        max_body_bytes=max_body_bytes,
        workers=workers,
        pool=pool,
        max_queue=max_queue,
        read_timeout_s=read_timeout_s,
        student_dir=student_dir,
    )
    run_server(app, host, port, lambda url: print(
        f"serving {student_dir} on {url} (a page to try it at /; POST /predict, GET /health; {workers} {pool} workers)",
        flush=True,
    ))  # fmt: skip
