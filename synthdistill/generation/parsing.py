"""Parsing: one teacher answer into samples, each with the reason when it is none."""

from __future__ import annotations

import re

_LEADING_MARKERS = re.compile(r"^\s*(?:[-*•]|\d+[.):]|\"|“|«|'|(?:sentence|text|example)\s*\d*\s*:)\s*", re.I)
_TRAILING_QUOTES = re.compile(r"[\"”»']+$")


def _clean(line: str) -> str:
    return _TRAILING_QUOTES.sub("", _LEADING_MARKERS.sub("", line)).strip()


def parse_generated(text: str, finish_reason: str | None, mode: str, n: int = 1) -> list[tuple[str | None, str, str]]:
    """Split one answer into up to `n` samples: (text, "ok", line) or (None, why it is no sample, line)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return [(None, "truncated" if finish_reason == "length" else "empty", text)]
    if n == 1 and mode == "chat" and len(lines) > 1:
        return [(None, "several_lines", text)]
    results: list[tuple[str | None, str, str]] = []
    for position, line in enumerate(lines[:n]):
        cut = finish_reason == "length" and position == len(lines[:n]) - 1 and len(lines) <= n
        cleaned = _clean(line)
        reason = "truncated" if cut else "ok" if cleaned else "empty"
        results.append((cleaned if reason == "ok" else None, reason, line))
    return results
