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
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from synthdistill.config import Config, load_config
from synthdistill.errors import DataError
from synthdistill.generation.language_id import check_language
from synthdistill.http_auth import api_key_from_env, api_key_middleware
from synthdistill.languages import resolve_language
from synthdistill.review_index import Filter, ReviewIndex
from synthdistill.reviews import ACTIONS, REVIEW_FILE, Decision, append_decisions, read_reviews

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_BODY_BYTES = 8_000_000  # an undo of a bulk action on 100,000 samples names them all (about 2 MB)
CSRF_HEADER = "X-CSRF-Token"
PROBLEMS = web.AppKey("problems", list)  # the review log's unreadable lines, for `review` to print


def page_html(token: str, nonce: str, title: str) -> str:
    template = resources.files("synthdistill").joinpath("pages/review.html").read_text(encoding="utf-8")
    return (
        template.replace("{{csrf_token}}", html.escape(token, quote=True))
        .replace("{{nonce}}", nonce)
        .replace("{{title}}", html.escape(title))
    )


def load_review_index(folder: str | Path) -> tuple[Config, ReviewIndex, list[str]]:
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
    return config, ReviewIndex.from_folder(folder, labels, reviews), list(reviews.problems)


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
    config, index, problems = load_review_index(folder)
    labels = config.task.label_names
    token = csrf_token or secrets.token_urlsafe(32)
    lock = asyncio.Lock()

    def error(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    async def page(request: web.Request) -> web.Response:
        nonce = secrets.token_urlsafe(16)
        policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; "
                  "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")  # fmt: skip
        headers = {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
        return web.Response(text=page_html(token, nonce, f"review: {folder.name}"), content_type="text/html",
                            headers=headers)  # fmt: skip

    async def meta(request: web.Request) -> web.Response:
        return web.json_response({
            "folder": str(folder), "labels": labels, "languages": index.languages, "reasons": index.reasons,
            "samples": len(index.samples), "hidden_copies": index.hidden_copies, "reviewer": reviewer,
            "problems": problems, "scored": bool(np.isfinite(index.probabilities).any()),
        })  # fmt: skip

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
        # the first call for a language builds its 5-gram matrix: off the event loop, so the page stays live
        return web.json_response(await asyncio.to_thread(index.neighbours, identifier))

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
        label, text = body.get("label"), body.get("text")
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
    app.router.add_get("/", page)
    app.router.add_get("/api/meta", meta)
    app.router.add_get("/api/samples", samples)
    app.router.add_get("/api/samples/{id}", detail)
    app.router.add_get("/api/samples/{id}/neighbours", neighbours)
    app.router.add_get("/api/summary", summary)
    app.router.add_post("/api/decisions", decisions)
    app.router.add_post("/api/bulk", bulk)
    return app


def review(
    folder: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8100,
    api_key_env: str | None = None,
    reviewer: str | None = None,
) -> None:
    api_key = api_key_from_env(api_key_env)
    app = build_review_app(folder, api_key=api_key, reviewer=reviewer or getpass.getuser())
    for problem in app[PROBLEMS]:
        print(f"warning: {problem}")
    print(f"reviewing {folder} on http://{host}:{port}/ (decisions go to {Path(folder) / REVIEW_FILE}; Ctrl+C stops)")
    web.run_app(app, host=host, port=port, print=None, access_log=None)
