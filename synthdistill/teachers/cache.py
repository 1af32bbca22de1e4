"""SQLite request cache: what was answered once is never paid for again, even after a crash."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from synthdistill.errors import TeacherError
from synthdistill.teachers.protocol import Completion, CompletionRequest


def request_key(model: str, request: CompletionRequest) -> str:
    """Hash of what is sent (model, prompt or messages, parameters, seed), never of code."""
    payload: dict[str, Any] = {"model": model, **request.canonical()}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class RequestCache:
    """Answers by request key; each answer is committed as it arrives (WAL), so a kill loses only requests in flight."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT, request TEXT, answer TEXT)"
            )
        except sqlite3.DatabaseError as err:
            raise TeacherError(f"{self.path}: cannot open request cache: {err}") from None
        self._lock = threading.Lock()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return Completion.from_dict(json.loads(row[0])) if row else None

    def put(self, key: str, model: str, request: CompletionRequest, answer: Completion) -> None:
        request_json = json.dumps(request.canonical(), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                (key, model, request_json, json.dumps(answer.to_dict(), ensure_ascii=False)),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
