"""SQLite request cache: what was answered once is never paid for again, even after a crash."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from synthdistill.errors import TeacherError
from synthdistill.teachers import fast_json
from synthdistill.teachers.protocol import Completion, CompletionRequest


def request_key(model: str, request: CompletionRequest) -> str:
    """Hash of what is sent (model, prompt or messages, parameters, seed), never of code."""
    return hashlib.sha256(f"{model}\x1f{request.canonical_json}".encode()).hexdigest()


def token_count_key(model: str, texts: Sequence[str]) -> str:
    """Hash of the model and the texts whose tokens were counted."""
    return hashlib.sha256(f"{model}\x1f{fast_json.dumps(list(texts))}".encode()).hexdigest()


class RequestCache:
    """Answers by request key, committed in batches (WAL) once the oldest has waited `flush_after_s`
    seconds, so a kill loses only the answers of that last moment and the requests in flight.

    One commit per answer cost about 35 us here: most of the engine's overhead against an instant server.
    While answers flow, the `put` that finds the batch due commits it on its own thread; a background
    thread commits only a batch that nobody came back for (committing from that thread on every tick
    costs more, in handing the GIL back and forth, than the commit itself). `flush_every` bounds what
    waits in memory.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_every: int = 10_000,
        flush_after_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT, request TEXT, answer TEXT)"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS token_counts (key TEXT PRIMARY KEY, counts TEXT)")
        except sqlite3.DatabaseError as err:
            raise TeacherError(f"{self.path}: cannot open request cache: {err}") from None
        self._lock = threading.Lock()  # the connection
        self._pending_lock = threading.Lock()  # answers not yet committed
        self.flush_every = flush_every
        self.flush_after_s = flush_after_s
        self._pending: dict[str, tuple[str, str, str]] = {}  # key -> (model, request JSON, answer JSON)
        self._committing: dict[str, tuple[str, str, str]] = {}  # taken by a flush, not yet in the file
        self._clock = clock
        self._pending_since = 0.0  # when the oldest waiting answer arrived
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def _waiting(self, key: str) -> Completion | None:
        with self._pending_lock:
            row = self._pending.get(key) or self._committing.get(key)
        return Completion.from_dict(fast_json.loads(row[2])) if row else None

    def get(self, key: str) -> Completion | None:
        waiting = self._waiting(key)
        if waiting is not None:
            return waiting
        with self._lock:
            row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return Completion.from_dict(fast_json.loads(row[0])) if row else None

    def get_many(self, keys: list[str], chunk: int = 500) -> dict[str, Completion]:
        """Answers of all keys found, in one query per `chunk` keys."""
        self.flush()
        found: dict[str, Completion] = {}
        with self._lock:
            for start in range(0, len(keys), chunk):
                part = keys[start : start + chunk]
                marks = ",".join("?" * len(part))
                query = f"SELECT key, answer FROM answers WHERE key IN ({marks})"
                for key, answer in self._db.execute(query, part):
                    found[key] = Completion.from_dict(fast_json.loads(answer))
        return found

    def put(self, key: str, model: str, request: CompletionRequest, answer: Completion) -> None:
        request_json = request.canonical_json
        answer_json = fast_json.dumps(answer.to_dict())
        now = self._clock()
        with self._pending_lock:
            if not self._pending:
                self._pending_since = now
            self._pending[key] = (model, request_json, answer_json)
            due = len(self._pending) >= self.flush_every or now - self._pending_since >= self.flush_after_s
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_periodically, daemon=True)
                self._flusher.start()
        if due:
            self.flush()

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.flush_after_s):
            with self._pending_lock:
                due = bool(self._pending) and self._clock() - self._pending_since >= self.flush_after_s
            if due:
                self.flush()

    def flush(self) -> None:
        """Commit the answers waiting in memory (the event loop keeps running meanwhile)."""
        with self._pending_lock:
            if not self._pending:
                return
            self._committing, self._pending = self._pending, {}
            rows = [(key, *values) for key, values in self._committing.items()]
        with self._lock, self._db:  # one transaction
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)", rows)
        with self._pending_lock:
            self._committing = {}

    def get_token_counts(self, key: str) -> list[int] | None:
        with self._lock:
            row = self._db.execute("SELECT counts FROM token_counts WHERE key = ?", (key,)).fetchone()
        return fast_json.loads(row[0]) if row else None

    def put_token_counts(self, key: str, counts: Sequence[int]) -> None:
        """Kept beside the answers, so a re-run sizes its requests alike without asking the tokenizer again
        (a cached re-run of the embedded teacher starts no server)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO token_counts VALUES (?, ?)", (key, fast_json.dumps(list(counts))))

    def __len__(self) -> int:
        self.flush()
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        self.flush()
        with self._lock:
            self._db.close()
