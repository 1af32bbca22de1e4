"""`synthdistill review OUT`: a local page for looking at a run's synthetic samples and deciding on them.

The same HTTP stack as `serve` (aiohttp), bound to 127.0.0.1 unless told otherwise, with the same optional API
key (the browser asks for it as a password). The page is one self-contained file: no external requests, and a
content security policy that runs only its own script, so a sample holding HTML or script is shown as text and
could not run even if it were not escaped. Decisions come only by POST with the page's CSRF token and go to
review.jsonl (reviews.py) before the page is told they are done.
"""

from __future__ import annotations

import asyncio
import getpass
import hmac
import html
import json
import multiprocessing
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from synthdistill.config import Config, load_config
from synthdistill.errors import DataError
from synthdistill.folder_lock import REVIEW_LOCK, holding
from synthdistill.generation.language_id import check_language
from synthdistill.http_servers import api_key_from_env, api_key_middleware, page_response, run_server
from synthdistill.languages import resolve_language
from synthdistill.review_index import Filter, ReviewIndex, five_gram_matrix
from synthdistill.reviews import ACTIONS, REVIEW_FILE, Decision, append_decisions, read_reviews
from synthdistill.worker_processes import start_background_worker

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_BODY_BYTES = 8_000_000  # an undo of a bulk action on 100,000 samples names them all (about 2 MB)
CSRF_HEADER = "X-CSRF-Token"
PROBLEMS = web.AppKey("problems", list)  # the review log's unreadable lines, for `review` to print


def script_json(value: Any) -> str:
    """JSON to sit inside a <script type="application/json"> element: no "<" at all, so that no text in it (a
    sample's "</script>") can end the element."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


class MatrixBuilder:
    """Builds the neighbours' 5-gram matrices in one process of lower priority, started on first use: a language
    with 100,000 samples takes seconds of CPU, which in the server's own process would hold the GIL from the
    requests of the page."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> Future | None:
        """Start the process and its imports now (the server does, before it opens its port), not on the first
        click; the future is done when the process is ready."""
        if self._pool is not None:
            return None
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=start_background_worker)  # fmt: skip
        return self._pool.submit(five_gram_matrix, ["warm up"])

    def __call__(self, texts: list[str]) -> Any:
        self.start()
        assert self._pool is not None
        return self._pool.submit(five_gram_matrix, texts).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def load_review_index(
    folder: str | Path, build_matrix: Callable[[list[str]], Any] | None = None
) -> tuple[Config, ReviewIndex, list[str]]:
    """The run's config (OUT/config.yaml, for the labels and filters), its samples, and the review log's problems
    (lines that could not be read, by number: they are skipped, the rest kept)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; give a run's output folder")
    if not (folder / "config.yaml").is_file():
        raise DataError(f"{folder}: no config.yaml here; give the output folder of `synthdistill generate` or `run`")
    config = load_config(folder / "config.yaml")
    labels = config.task.label_names
    reviews = read_reviews(folder / REVIEW_FILE, labels)
    return config, ReviewIndex.from_folder(folder, labels, reviews, build_matrix), list(reviews.problems)


def _filter(query: Any) -> Filter:
    def bound(name: str) -> float | None:
        value = query.get(name, "")
        return float(value) if value not in ("", None) else None

    return Filter(
        language=query.get("language", ""), label=query.get("label", ""), status=query.get("status", "") or "all",
        reason=query.get("reason", ""), min_confidence=bound("min_confidence"),
        max_confidence=bound("max_confidence"), query=query.get("q", ""),
    )  # fmt: skip


def build_review_app(
    folder: str | Path, *, api_key: str | None = None, reviewer: str = "", csrf_token: str | None = None
) -> web.Application:
    folder = Path(folder)
    builder = MatrixBuilder()
    neighbour_thread = ThreadPoolExecutor(1, thread_name_prefix="neighbours")
    config, index, problems = load_review_index(folder, builder)
    labels = config.task.label_names
    if config.filters.language_id and index.languages:  # load the language-ID model now, not on the first click
        check_language("warm up", resolve_language(index.languages[0]), config.filters.language_min_probability)
    token = csrf_token or secrets.token_urlsafe(32)
    lock = asyncio.Lock()

    def error(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    async def page(request: web.Request) -> web.Response:
        initial = {"meta": facts(), "page": index.page(Filter(), 0, PAGE_SIZE)}  # drawn without asking
        return page_response("review.html", f"review: {folder.name}", csrf_token=html.escape(token, quote=True),
                             initial=script_json(initial))  # fmt: skip

    def facts() -> dict[str, Any]:
        return {
            "folder": str(folder), "labels": labels, "languages": index.languages, "reasons": index.reasons,
            "samples": len(index.samples), "hidden_copies": index.hidden_copies, "reviewer": reviewer,
            "problems": problems, "scored": bool(np.isfinite(index.probabilities).any()),
        }  # fmt: skip

    async def meta(request: web.Request) -> web.Response:
        return web.json_response(facts())

    async def samples(request: web.Request) -> web.Response:
        try:
            wanted = _filter(request.query)
            offset = int(request.query.get("offset", 0))
            limit = min(int(request.query.get("limit", PAGE_SIZE)), MAX_PAGE_SIZE)
            return web.json_response(index.page(wanted, offset, max(limit, 1)))
        except ValueError as err:
            return error(400, str(err))

    async def detail(request: web.Request) -> web.Response:
        identifier = request.match_info["id"]
        if identifier not in index.position:
            return error(404, f"no sample {identifier!r}")
        found = index.detail(identifier)
        if config.filters.language_id and found["language"]:
            check = check_language(found["text"], resolve_language(found["language"]),
                                   config.filters.language_min_probability)  # fmt: skip
            found["language_id"] = {"ok": check.ok, "verdict": check.reason, "probability": check.probability}
        return web.json_response(found)

    async def neighbours(request: web.Request) -> web.Response:
        identifier = request.match_info["id"]
        if identifier not in index.position:
            return error(404, f"no sample {identifier!r}")
        # the first call for a language builds its 5-gram matrix (seconds at 100,000 samples): on a thread of its
        # own, so that neither the event loop nor the decisions' writes wait for it
        loop = asyncio.get_running_loop()
        return web.json_response(await loop.run_in_executor(neighbour_thread, index.neighbours, identifier))

    async def summary(request: web.Request) -> web.Response:
        return web.json_response(index.summary())

    async def read_body(request: web.Request) -> dict[str, Any] | web.Response:
        given = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return error(403, f"missing or wrong {CSRF_HEADER}: decisions come only from the review page")
        try:
            body = json.loads(await request.text())
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return error(400, "body is not JSON")
        except web.HTTPRequestEntityTooLarge:
            return error(413, f"body larger than {MAX_BODY_BYTES} bytes")
        if not isinstance(body, dict):
            return error(422, "expected a JSON object")
        return body

    async def decide(rows: list[int], body: dict[str, Any]) -> web.Response:
        action = body.get("action")
        if action not in ACTIONS:
            return error(422, f"action must be one of {', '.join(ACTIONS)}")
        # only what the action uses goes to the log: a drop that came with a label is a drop
        label = body.get("label") if action == "relabel" else None
        text = body.get("text") if action == "edit" else None
        decisions = [Decision(index.ids[row], action, label, text, by=reviewer) for row in rows]
        async with lock:  # one writer: the log's order is the order the page is told
            try:
                written = await asyncio.to_thread(append_decisions, folder, decisions, labels)
            except ValueError as err:
                return error(422, str(err))
            index.apply(written)
        shown = [index.row(row) for row in rows[:MAX_PAGE_SIZE]]
        return web.json_response({"count": len(rows), "ids": [index.ids[row] for row in rows], "rows": shown})

    async def decisions(request: web.Request) -> web.Response:
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return error(422, 'expected "ids": a non-empty list of sample ids')
        unknown = [i for i in ids if i not in index.position]
        if unknown:
            return error(404, f"no sample {unknown[0]!r}")
        return await decide([index.position[i] for i in ids], body)

    async def bulk(request: web.Request) -> web.Response:
        """One decision on every sample the filter selects (not only the page shown)."""
        body = await read_body(request)
        if isinstance(body, web.Response):
            return body
        if body.get("action") not in ("keep", "drop", "relabel"):
            return error(422, "a bulk action is keep, drop or relabel")
        try:
            rows = index.select(_filter(body.get("filter") or {})).tolist()
        except (ValueError, AttributeError) as err:
            return error(400, f"bad filter: {err}")
        if not rows:
            return error(422, "the filter selects no samples")
        return await decide(rows, body)

    app = web.Application(middlewares=[api_key_middleware(api_key, browser=True)], client_max_size=MAX_BODY_BYTES)
    app[PROBLEMS] = problems

    async def start_builder(app: web.Application) -> None:
        ready = builder.start()
        if ready is not None:  # its imports take seconds of CPU: not while the first page is being drawn
            await asyncio.wrap_future(ready)

    async def stop_builder(app: web.Application) -> None:
        neighbour_thread.shutdown(wait=False, cancel_futures=True)
        builder.close()

    app.on_startup.append(start_builder)
    app.on_cleanup.append(stop_builder)
    app.router.add_get("/", page)
    app.router.add_get("/api/meta", meta)
    app.router.add_get("/api/samples", samples)
    app.router.add_get("/api/samples/{id}", detail)
    app.router.add_get("/api/samples/{id}/neighbours", neighbours)
    app.router.add_get("/api/summary", summary)
    app.router.add_post("/api/decisions", decisions)
    app.router.add_post("/api/bulk", bulk)
    return app


def _system_user() -> str:
    """The name decisions are signed with by default; none where the system has no name for this user (a
    container run under a bare user id)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def review(
    folder: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8100,
    api_key_env: str | None = None,
    reviewer: str | None = None,
) -> None:
    api_key = api_key_from_env(api_key_env)
    app = build_review_app(folder, api_key=api_key, reviewer=reviewer or _system_user())
    for problem in app[PROBLEMS]:
        print(f"warning: {problem}")
    with holding(folder, "review", REVIEW_LOCK):  # two servers on one folder would not see each other's decisions
        run_server(app, host, port, lambda url: print(
            f"reviewing {folder} on {url}/ (decisions go to {Path(folder) / REVIEW_FILE}; Ctrl+C stops)", flush=True
        ))  # fmt: skip
