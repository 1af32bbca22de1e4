"""Finished experiment cells in SQLite: each row is committed as it arrives, so a crash loses only the cells
that were running, and a re-run asks the store which keys are done."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class ResultStore:
    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, kind TEXT, row TEXT)")

    def done(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            found |= {k for (k,) in self._db.execute(f"SELECT key FROM results WHERE key IN ({marks})", part)}
        return found

    def put(self, key: str, kind: str, row: dict[str, Any]) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (key, kind, json.dumps(row, ensure_ascii=False))
            )

    def rows(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The rows of these keys (those that are done)."""
        keys = list(keys)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, row in self._db.execute(f"SELECT key, row FROM results WHERE key IN ({marks})", part):
                found[key] = json.loads(row)
        return found

    def close(self) -> None:
        self._db.close()
