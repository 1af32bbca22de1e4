"""`synthdistill serve`: a small HTTP API for any saved student.

Binds to 127.0.0.1 unless told otherwise, can require an API key (read from an environment variable), caps
body size and batch length, and answers malformed requests with a 4xx, never a crash.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from synthdistill.errors import ConfigError
from synthdistill.students.base import Student, load_student, probability_rows


def build_app(
    student: Student,
    *,
    api_key: str | None = None,
    max_batch: int = 64,
    max_body_bytes: int = 1_000_000,
    max_text_chars: int = 10_000,
) -> web.Application:
    def error(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        if api_key is not None and request.path != "/health":
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            given = given or request.headers.get("X-API-Key", "")
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                return error(401, "missing or wrong API key")
        return await handler(request)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "classes": student.classes})

    async def predict(request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=json.loads)
        except web.HTTPRequestEntityTooLarge:
            return error(413, f"body larger than {max_body_bytes} bytes")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "body is not JSON")
        if not isinstance(body, dict):
            return error(422, 'expected {"texts": [...]} or {"text": "..."}')
        texts = [body["text"]] if "text" in body else body.get("texts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return error(422, 'expected {"texts": [...]} (a non-empty list of strings) or {"text": "..."}')
        if len(texts) > max_batch:
            return error(413, f"at most {max_batch} texts per request")
        if any(len(t) > max_text_chars for t in texts):
            return error(413, f"texts are limited to {max_text_chars} characters")
        predictions = probability_rows(student.classes, student.predict_proba(texts))
        return web.json_response({"predictions": predictions})

    app = web.Application(middlewares=[authenticate], client_max_size=max_body_bytes)
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
) -> None:
    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise ConfigError(f"--api-key-env: environment variable {api_key_env} is not set")
    student = load_student(student_dir)
    app = build_app(student, api_key=api_key, max_batch=max_batch, max_body_bytes=max_body_bytes)
    print(f"serving {student_dir} on http://{host}:{port} (POST /predict, GET /health)")
    web.run_app(app, host=host, port=port, print=None, access_log=None)
